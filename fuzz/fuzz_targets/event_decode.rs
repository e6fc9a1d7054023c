#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pedigree_fuzz::event_decode(data));
