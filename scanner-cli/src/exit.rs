//! The process exit codes, one meaning each (README, "Exit codes").

use std::process::ExitCode;

/// How a run ended. The order is the severity order used when one run
/// covers several codes: the worst outcome decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: every code read; every pack verified and OK to dispense; every
    /// action done.
    Ok,
    /// 1: a pack is suspect or must not be dispensed, or the service
    /// refused the action.
    Refused,
    /// 2: bad usage, bad configuration, or unreadable input.
    Usage,
    /// 3: a service could not be reached, or its answer could not be
    /// verified (including evidence of tampering).
    Unverified,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Refused => 1,
            Exit::Usage => 2,
            Exit::Unverified => 3,
        }
    }

    /// The worse of two outcomes.
    pub fn and(self, other: Exit) -> Exit {
        self.max(other)
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_outcome_wins_and_keeps_its_documented_number() {
        assert_eq!(Exit::Ok.and(Exit::Refused), Exit::Refused);
        assert_eq!(Exit::Unverified.and(Exit::Usage), Exit::Unverified);
        assert_eq!(Exit::Usage.and(Exit::Refused), Exit::Usage);
        let codes: Vec<u8> = [Exit::Ok, Exit::Refused, Exit::Usage, Exit::Unverified]
            .map(Exit::code)
            .to_vec();
        assert_eq!(codes, [0, 1, 2, 3]);
    }
}
