//! Named points between two writes where tests make a process "crash".
//!
//! Every multi-write flow that must survive a crash (a schedule's fire, a
//! bulk's admission, the gate's admissions) calls [`Failpoints::hit`] between
//! its writes. Nothing is armed in a real process: a hit is one relaxed
//! atomic load. Tests arm a point in-process (the call then answers an error,
//! so nothing after it is written: the database is left exactly as a process
//! killed there would leave it) or, in builds with the demo feature, through
//! `TENANTRY_FAILPOINTS=name=abort@N` for a real process that aborts at its
//! N-th hit (the two-process crash tests).

use crate::error::{AppError, AppResult};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What an armed point does when its turn comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Answer an error from the point (in-process tests).
    Fail,
    /// Abort the whole process (tests that run `tenantry` itself).
    Abort,
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    /// Hits to let through before crashing.
    pass: u32,
    crash: Crash,
}

/// The armed points of one [`crate::services::Services`].
#[derive(Debug, Default)]
pub struct Failpoints {
    any: AtomicBool,
    armed: Mutex<HashMap<String, Armed>>,
    hits: Mutex<HashMap<String, u32>>,
}

impl Failpoints {
    /// Crashes at the `(pass + 1)`-th hit of `name`, once.
    pub fn arm(&self, name: &str, pass: u32, crash: Crash) {
        if let Ok(mut armed) = self.armed.lock() {
            armed.insert(name.to_string(), Armed { pass, crash });
            self.any.store(true, Ordering::Release);
        }
    }

    /// Parses `name=abort@N,other=fail` (N: hits to let through, default 0).
    pub fn from_spec(spec: &str) -> Result<Failpoints, String> {
        let points = Failpoints::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, how) = item
                .split_once('=')
                .ok_or_else(|| format!("failpoint {item:?}: expected name=abort@N"))?;
            let (what, pass) = match how.split_once('@') {
                Some((w, n)) => (
                    w,
                    n.parse::<u32>()
                        .map_err(|_| format!("failpoint {item:?}: bad count"))?,
                ),
                None => (how, 0),
            };
            let crash = match what {
                "abort" => Crash::Abort,
                "fail" => Crash::Fail,
                _ => return Err(format!("failpoint {item:?}: abort or fail")),
            };
            points.arm(name.trim(), pass, crash);
        }
        Ok(points)
    }

    /// How many times `name` was reached (armed or not, once anything is armed).
    pub fn hits(&self, name: &str) -> u32 {
        self.hits
            .lock()
            .ok()
            .and_then(|h| h.get(name).copied())
            .unwrap_or(0)
    }

    /// A point between two writes: `Err` (or an abort) when armed and due.
    pub fn hit(&self, name: &str) -> AppResult<()> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Ok(mut hits) = self.hits.lock() {
            *hits.entry(name.to_string()).or_default() += 1;
        }
        let due = {
            let Ok(mut armed) = self.armed.lock() else {
                return Ok(());
            };
            match armed.get_mut(name) {
                Some(a) if a.pass == 0 => {
                    let crash = a.crash;
                    armed.remove(name);
                    Some(crash)
                }
                Some(a) => {
                    a.pass -= 1;
                    None
                }
                None => None,
            }
        };
        match due {
            None => Ok(()),
            Some(Crash::Fail) => {
                tracing::warn!(failpoint = name, "failpoint reached: failing here");
                Err(AppError::Internal)
            }
            Some(Crash::Abort) => {
                eprintln!("failpoint {name} reached: aborting the process");
                std::process::abort()
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_point_crashes_once_after_the_hits_it_lets_through() {
        let f = Failpoints::from_spec("a=fail@2").unwrap();
        assert!(f.hit("a").is_ok());
        assert!(f.hit("b").is_ok());
        assert!(f.hit("a").is_ok());
        assert_eq!(f.hit("a"), Err(AppError::Internal));
        assert!(f.hit("a").is_ok(), "once");
        assert_eq!(f.hits("a"), 4);
        assert!(Failpoints::from_spec("a=explode").is_err());
        assert!(Failpoints::from_spec("a").is_err());
        assert!(Failpoints::from_spec("").is_ok());
    }

    #[test]
    fn nothing_armed_costs_nothing_and_counts_nothing() {
        let f = Failpoints::default();
        assert!(f.hit("a").is_ok());
        assert_eq!(f.hits("a"), 0);
    }
}
