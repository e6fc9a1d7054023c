#![no_main]

// The scanner catches panics of rqrr (third-party code run on untrusted pixels) and treats
// them as "no code here"; libFuzzer's panic hook would abort on them first, so this target
// keeps the default hook. A panic anywhere else still escapes the target and is a crash.
libfuzzer_sys::fuzz_target!(
    init: {
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| pedigree_fuzz::image_payload(data)
);
