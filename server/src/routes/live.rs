//! Live streams open now, counted per person (a bearer token counts as its person), with a cap
//! on each, so one script or a hundred forgotten tabs cannot hold the server's connections. A
//! stream keeps its [`StreamPass`] for as long as it is open; the pass is dropped with the
//! stream when the client goes away, and the place is free again.

use app::domain::{Actor, Event};
use app::error::AppError;
use app::store::Store;
use futures_util::Stream;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a stream looks for changes made by other processes (the CLI, another server),
/// which do not wake it.
const RECHECK: Duration = Duration::from_secs(5);

/// The board's changes after event `after`, in order, for as long as the caller keeps the
/// stream: `events` rows read in batches, waiting on the store's change signal between them.
pub fn changes(store: Store, after: i64) -> impl Stream<Item = Event> {
    let signal = store.subscribe();
    let state = (store, after, signal, VecDeque::new());
    futures_util::stream::unfold(
        state,
        |(store, mut last, mut signal, mut queue)| async move {
            loop {
                if let Some(event) = queue.pop_front() {
                    let event: Event = event;
                    last = event.id;
                    return Some((event, (store, last, signal, queue)));
                }
                match store.events_after(last, 200).await {
                    Ok(batch) if !batch.is_empty() => queue.extend(batch),
                    Ok(_) => {
                        tokio::select! {
                            changed = signal.changed() => if changed.is_err() { return None },
                            _ = tokio::time::sleep(RECHECK) => {}
                        }
                    }
                    Err(_) => tokio::time::sleep(RECHECK).await,
                }
            }
        },
    )
}

pub struct LiveStreams {
    cap: usize,
    open: Mutex<HashMap<String, usize>>,
}

impl LiveStreams {
    pub fn new(cap_per_person: usize) -> Self {
        LiveStreams {
            cap: cap_per_person.max(1),
            open: Mutex::default(),
        }
    }

    /// A place for one more stream of `actor`'s, or a 429 when they hold the cap already.
    pub fn enter(self: &Arc<Self>, actor: &Actor) -> Result<StreamPass, AppError> {
        let who = match actor.user_id {
            Some(id) => format!("user:{id}"),
            None => format!("name:{}", actor.name),
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(who.clone()).or_default();
        if *count >= self.cap {
            return Err(AppError::LimitReached(format!(
                "{} live streams are open for this account already (the most allowed); close \
                 a board tab or two",
                self.cap
            )));
        }
        *count += 1;
        Ok(StreamPass {
            streams: self.clone(),
            who,
        })
    }

    /// Streams open now, everyone's.
    pub fn open_now(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.values().sum()
    }
}

/// One open stream's place; dropping it frees the place.
pub struct StreamPass {
    streams: Arc<LiveStreams>,
    who: String,
}

impl Drop for StreamPass {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.who) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.who);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::Role;

    #[test]
    fn each_person_holds_at_most_the_cap_and_a_dropped_stream_frees_its_place() {
        let streams = Arc::new(LiveStreams::new(2));
        let mut ann = Actor::new(Role::Member, "Ann");
        ann.user_id = Some(1);
        let mut bob = Actor::new(Role::Member, "Bob");
        bob.user_id = Some(2);
        let first = streams.enter(&ann).unwrap();
        let _second = streams.enter(&ann).unwrap();
        let refused = streams.enter(&ann).err().unwrap();
        assert_eq!(refused.status(), 429);
        assert!(refused.to_string().contains("2 live streams"), "{refused}");
        let _bobs = streams.enter(&bob).unwrap();
        assert_eq!(streams.open_now(), 3);
        drop(first);
        assert_eq!(streams.open_now(), 2);
        let _again = streams.enter(&ann).unwrap();
    }
}
