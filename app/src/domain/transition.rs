//! Who may move an issue from one status to another. This is the only place that decides it:
//! the JSON API, the board's server functions, the board's drop targets and the runner all ask
//! [`check_move`].

use super::Status::{self, *};
use serde::{Deserialize, Serialize};

/// What kind of party is acting. Admins can do everything members can, and a little more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Anyone on the internet, through the feedback route: may only file feedback.
    Public,
    Member,
    Admin,
    /// The agent runner, acting on an issue it has claimed.
    Runner,
    /// The server itself: lease expiry, un-blocking on a human comment.
    System,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Public,
        Role::Member,
        Role::Admin,
        Role::Runner,
        Role::System,
    ];

    /// A person working the board.
    pub fn is_human(self) -> bool {
        matches!(self, Role::Member | Role::Admin)
    }
}

/// A party acting on the board, as recorded in events, comments and `created_by`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub role: Role,
    /// Stable name shown in history: a user's display name, a runner's id, "public", "system".
    pub name: String,
    /// The person behind it, when it is a person.
    pub user_id: Option<i64>,
}

impl Actor {
    pub fn new(role: Role, name: impl Into<String>) -> Self {
        Actor {
            role,
            name: name.into(),
            user_id: None,
        }
    }

    pub fn user(user: &super::User) -> Self {
        Actor {
            role: user.role.actor_role(),
            name: user.display_name.clone(),
            user_id: Some(user.id),
        }
    }

    pub fn system() -> Self {
        Actor::new(Role::System, "system")
    }

    pub fn public() -> Self {
        Actor::new(Role::Public, "public")
    }

    /// How the actor is written into `events.actor` and `created_by`.
    pub fn label(&self) -> String {
        match self.role {
            Role::Runner => format!("runner:{}", self.name),
            Role::Public | Role::System => self.name.clone(),
            Role::Member | Role::Admin => self.name.clone(),
        }
    }
}

/// Why a move is refused; the text is shown to the person who tried it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum MoveDenied {
    #[error("the issue is already {}", .0.as_str().replace('_', " "))]
    SameStatus(Status),
    #[error("{} → {} is not a move anyone can make", .from.label(), .to.label())]
    NoSuchMove { from: Status, to: Status },
    #[error("only {who} can move an issue from {} to {}", .from.label(), .to.label())]
    NotYours {
        from: Status,
        to: Status,
        who: String,
    },
}

/// Decides whether `role` may move an issue (with the given `human_only` flag) from `from` to
/// `to`. Runner moves also require holding the claim; that is checked where the claim is read.
pub fn check_move(
    role: Role,
    human_only: bool,
    from: Status,
    to: Status,
) -> Result<(), MoveDenied> {
    use Role::*;
    if from == to {
        return Err(MoveDenied::SameStatus(from));
    }
    let member = role.is_human();
    let denied = |who: &str| {
        Err(MoveDenied::NotYours {
            from,
            to,
            who: who.to_string(),
        })
    };
    match (from, to) {
        // Planning: shelving, unshelving, and reopening.
        (Backlog, Ready)
        | (Ready, Backlog)
        | (Blocked, Backlog)
        | (InReview, Backlog)
        | (Done, Backlog)
        | (Done, Ready) => {
            if member {
                Ok(())
            } else {
                denied("a person")
            }
        }
        // Starting work: the runner claims agent issues; a person may start any issue, and by
        // starting it takes it as human work (see `takes_it_as_human_work`), so the board is a
        // plain tracker without a runner.
        (Ready, InProgress) => match (role, human_only) {
            (Runner, false) | (Member | Admin, _) => Ok(()),
            (Runner, true) => denied("a person (this issue is human-only)"),
            _ => denied("a person or the runner"),
        },
        // Finishing work, or asking a question: whoever holds the work.
        (InProgress, InReview) | (InProgress, Blocked) => match (role, human_only) {
            (Runner, false) => Ok(()),
            (Member | Admin, true) => Ok(()),
            (Member | Admin, false) => denied("the runner working on it"),
            _ => denied("a person (this issue is human-only)"),
        },
        // Giving work back: lease expiry (system), the runner on shutdown, an admin cancelling
        // a run, or a person un-starting human-only work.
        (InProgress, Ready) => match (role, human_only) {
            (System | Admin, _) | (Runner, false) | (Member, true) => Ok(()),
            (Member, false) => denied("an admin (cancelling the agent's run)"),
            _ => denied("the runner, an admin or the system"),
        },
        // Shelving work in progress is only for human-only work; agent work is cancelled first.
        (InProgress, Backlog) => match (role, human_only) {
            (Member | Admin, true) => Ok(()),
            _ => denied("a person, and only for human-only work (cancel the run first)"),
        },
        // A question was answered: a person says so, or the system does when a person comments.
        (Blocked, Ready) => {
            if member || role == System {
                Ok(())
            } else {
                denied("a person")
            }
        }
        // Resuming human-only work straight from blocked.
        (Blocked, InProgress) => match (role, human_only) {
            (Member | Admin, true) => Ok(()),
            _ => denied("a person, and only for human-only work"),
        },
        // Review: accepting is always a human act; asking for changes sends it back to the queue.
        // The system records a person's acts on the forge: a merged pull request is done, one
        // closed without merging is blocked.
        (InReview, Done) => {
            if member || role == System {
                Ok(())
            } else {
                denied("a person (or the merge of its pull request)")
            }
        }
        // Asking for changes sends it back to the agent; so do the forge's failing checks
        // and a review asking for changes there (recorded by the system).
        (InReview, Ready) => {
            if member || role == System {
                Ok(())
            } else {
                denied("a person (or the pull request's checks or reviews)")
            }
        }
        (InReview, Blocked) => {
            if role == System {
                Ok(())
            } else {
                denied("the system (its pull request was closed)")
            }
        }
        _ => Err(MoveDenied::NoSuchMove { from, to }),
    }
}

/// Whether this move makes the issue human work: a person starting it takes it, so from then
/// on it is human-only (and theirs, when no one else is assigned), and no runner claims it.
pub fn takes_it_as_human_work(role: Role, from: Status, to: Status) -> bool {
    role.is_human() && from == Ready && to == InProgress
}

/// The columns an issue may be dropped into by `role`: what the board highlights while dragging.
pub fn legal_targets(role: Role, human_only: bool, from: Status) -> Vec<Status> {
    Status::ALL
        .into_iter()
        .filter(|&to| check_move(role, human_only, from, to).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    /// The whole table, written out: (from, to, human_only) → roles allowed. Every other
    /// combination of role, flag and pair of statuses must be refused.
    fn allowed(from: Status, to: Status, human_only: bool) -> &'static [Role] {
        const PEOPLE: &[Role] = &[Member, Admin];
        match (from, to, human_only) {
            (Backlog, Ready, _) | (Ready, Backlog, _) => PEOPLE,
            (Blocked, Backlog, _) | (InReview, Backlog, _) => PEOPLE,
            (Done, Backlog, _) | (Done, Ready, _) => PEOPLE,
            (Ready, InProgress, false) => &[Member, Admin, Runner],
            (Ready, InProgress, true) => PEOPLE,
            (InProgress, InReview, false) | (InProgress, Blocked, false) => &[Runner],
            (InProgress, InReview, true) | (InProgress, Blocked, true) => PEOPLE,
            (InProgress, Ready, false) => &[Admin, Runner, System],
            (InProgress, Ready, true) => &[Member, Admin, System],
            (InProgress, Backlog, true) => PEOPLE,
            (Blocked, Ready, _) => &[Member, Admin, System],
            (Blocked, InProgress, true) => PEOPLE,
            (InReview, Done, _) => &[Member, Admin, System],
            (InReview, Ready, _) => &[Member, Admin, System],
            (InReview, Blocked, _) => &[System],
            _ => &[],
        }
    }

    #[test]
    fn every_actor_every_pair_of_statuses_matches_the_table() {
        let mut checked = 0;
        for role in Role::ALL {
            for human_only in [false, true] {
                for from in Status::ALL {
                    for to in Status::ALL {
                        let got = check_move(role, human_only, from, to).is_ok();
                        let want = allowed(from, to, human_only).contains(&role);
                        assert_eq!(
                            got, want,
                            "{role:?} human_only={human_only} {from:?} -> {to:?}: got {got}, want {want}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 2 * 6 * 6);
    }

    #[test]
    fn the_agent_never_reaches_done_and_never_touches_human_only_work() {
        for from in Status::ALL {
            assert!(check_move(Runner, false, from, Done).is_err());
            // The system only records a merged pull request.
            assert_eq!(
                check_move(System, false, from, Done).is_ok(),
                from == InReview
            );
            for to in Status::ALL {
                assert!(check_move(Runner, true, from, to).is_err());
            }
        }
    }

    #[test]
    fn the_public_can_move_nothing() {
        for from in Status::ALL {
            assert!(legal_targets(Public, false, from).is_empty());
            assert!(legal_targets(Public, true, from).is_empty());
        }
    }

    #[test]
    fn only_a_person_starting_an_issue_takes_it_as_human_work() {
        for role in Role::ALL {
            for from in Status::ALL {
                for to in Status::ALL {
                    let takes = takes_it_as_human_work(role, from, to);
                    let want = role.is_human() && (from, to) == (Ready, InProgress);
                    assert_eq!(takes, want, "{role:?} {from:?} -> {to:?}");
                }
            }
        }
    }

    #[test]
    fn refusals_explain_themselves() {
        assert_eq!(
            check_move(Member, false, InProgress, InReview)
                .unwrap_err()
                .to_string(),
            "only the runner working on it can move an issue from In progress to In review"
        );
        assert_eq!(
            check_move(Member, false, Backlog, Done)
                .unwrap_err()
                .to_string(),
            "Backlog → Done is not a move anyone can make"
        );
        assert_eq!(
            check_move(Member, false, Done, Done)
                .unwrap_err()
                .to_string(),
            "the issue is already done"
        );
    }

    #[test]
    fn a_member_sees_the_drop_targets_of_a_backlog_card() {
        assert_eq!(legal_targets(Member, false, Backlog), vec![Ready]);
        assert_eq!(
            legal_targets(Member, false, InReview),
            vec![Backlog, Ready, Done]
        );
    }
}
