//! Who a bearer token or a session belongs to, as last read. An answer stands while this
//! process hears of no change and for at most [`FRESH`]: every write that could end or narrow
//! someone's access announces itself (`Store::announce`, or a committed transaction), to this
//! process at once and on PostgreSQL to every other one through LISTEN, so a page served from
//! memory costs no query and a revoked token or an ended session is refused on the next
//! request. `FRESH` bounds what nobody announced (the CLI writing to SQLite from another
//! process, a lost notification).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer stands while nothing is heard of.
pub const FRESH: Duration = Duration::from_secs(1);

/// More entries than this and the stale ones go; if none are, all go.
const MOST: usize = 4096;

pub(super) struct Recent<K, V> {
    answers: Mutex<HashMap<K, Answer<V>>>,
}

struct Answer<V> {
    /// The store's change count when the read started.
    changes: u64,
    at: Instant,
    value: V,
}

impl<V> Answer<V> {
    fn stands(&self, changes: u64) -> bool {
        self.changes == changes && self.at.elapsed() < FRESH
    }
}

impl<K, V> std::fmt::Debug for Recent<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recent")
    }
}

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Recent {
            answers: Mutex::default(),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    /// The answer read for `key`, if it still stands now that the change count is `changes`.
    pub fn get(&self, key: &K, changes: u64) -> Option<V> {
        let answers = self.answers.lock().ok()?;
        answers
            .get(key)
            .filter(|answer| answer.stands(changes))
            .map(|answer| answer.value.clone())
    }

    /// Drops what was read for `key` (this process just wrote it).
    pub fn forget(&self, key: &K) {
        if let Ok(mut answers) = self.answers.lock() {
            answers.remove(key);
        }
    }

    /// Keeps an answer read from a read that started at `at`, when the count was `changes`.
    pub fn put(&self, key: K, changes: u64, at: Instant, value: V) {
        let Ok(mut answers) = self.answers.lock() else {
            return;
        };
        if answers.len() >= MOST {
            answers.retain(|_, answer| answer.stands(changes));
            if answers.len() >= MOST {
                answers.clear();
            }
        }
        answers.insert(key, Answer { changes, at, value });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_stands_until_a_change_is_heard_of_or_it_is_old() {
        let recent = Recent::<&str, i64>::default();
        recent.put("a", 3, Instant::now(), 7);
        assert_eq!(recent.get(&"a", 3), Some(7));
        assert_eq!(recent.get(&"a", 4), None, "a change was heard of since");
        assert_eq!(recent.get(&"b", 3), None);
        let old = Instant::now().checked_sub(FRESH).unwrap();
        recent.put("a", 3, old, 7);
        assert_eq!(recent.get(&"a", 3), None, "too old");
    }

    #[test]
    fn it_holds_a_bounded_number_of_answers() {
        let recent = Recent::<usize, ()>::default();
        for key in 0..MOST * 3 {
            recent.put(key, 0, Instant::now(), ());
        }
        assert!(recent.answers.lock().unwrap().len() <= MOST);
        assert_eq!(recent.get(&(MOST * 3 - 1), 0), Some(()));
    }
}
