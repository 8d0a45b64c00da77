//! The commands in flight over every interleaving of the relay's answer, its
//! confirming event, a live event from elsewhere and the deadline.

use protocol::order::order_number;
use protocol::OrderStatus::{self, Cancelled, Pending, Processing, Shipped};

use super::{Change, Command, CONFIRM_WITHIN_MS};
use crate::commands::Pending as Shown;
use crate::fixtures::{cancelled, created, order, run, snapshot, updated};
use crate::reduce::reduce;
use crate::state::{Action, AppState};
use crate::toast::ToastKind;

const SENT_AT: f64 = 1_000_000.0;

fn sent(id: u64, order_id: &str, change: Change) -> Action {
    Action::CommandSent(Command {
        id,
        order_id: order_id.to_owned(),
        change,
        deadline: SENT_AT + CONFIRM_WITHIN_MS,
    })
}

fn refused(id: u64) -> Action {
    Action::CommandRefused {
        id,
        why: "The order has moved on and cannot be changed that way".to_owned(),
    }
}

fn due() -> Action {
    Action::CommandsDue {
        now: SENT_AT + CONFIRM_WITHIN_MS,
    }
}

fn errors(state: &AppState) -> Vec<String> {
    state
        .toasts
        .visible()
        .iter()
        .chain(state.toasts.waiting())
        .filter(|t| t.kind == ToastKind::Error)
        .map(|t| t.text.clone())
        .collect()
}

fn status(state: &AppState, id: &str) -> Option<OrderStatus> {
    state.orders().get(id).map(|o| o.status)
}

/// Every order of `items`, each once, in every order.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.is_empty() {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

/// What can happen after a command is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// The relay's event that shows the command's effect.
    Confirmation,
    /// The HTTP request failed.
    Refusal,
    /// The deadline passed.
    Deadline,
    /// Another order event for the same order, from someone else.
    Live,
}

/// One kind of command: how to send it, its confirming event, a live event
/// from elsewhere, what its row shows meanwhile, and the words of its
/// refusal.
struct Case {
    name: &'static str,
    setup: Vec<Action>,
    change: Change,
    confirmation: Action,
    live: Action,
    shown: Shown,
    refusal: &'static str,
}

fn cases() -> Vec<Case> {
    let mut placed = order("n", 50);
    placed.status = Pending;
    vec![
        Case {
            name: "cancel",
            setup: vec![created("a", 1)],
            change: Change::Cancel,
            confirmation: cancelled("a", 3),
            live: updated("a", Processing, 2),
            shown: Shown::Cancelling,
            refusal: "Could not cancel order #",
        },
        Case {
            name: "advance",
            setup: vec![created("a", 1)],
            change: Change::Advance(Shipped),
            confirmation: updated("a", Shipped, 3),
            live: updated("a", Processing, 2),
            shown: Shown::Advancing(Shipped),
            refusal: "Could not update order #",
        },
        Case {
            name: "checkout",
            setup: vec![created("a", 1)],
            change: Change::Place(placed),
            confirmation: created("n", 50),
            live: updated("a", Processing, 2),
            shown: Shown::Placing,
            refusal: "Could not place the order",
        },
    ]
}

fn target(case: &Case) -> &'static str {
    if matches!(case.change, Change::Place(_)) {
        "n"
    } else {
        "a"
    }
}

#[test]
fn every_interleaving_ends_the_command_once_and_loses_no_event() {
    let steps = [
        Step::Confirmation,
        Step::Refusal,
        Step::Deadline,
        Step::Live,
    ];
    for case in cases() {
        let id = target(&case);
        for order in permutations(&steps) {
            let name = format!("{}: {order:?}", case.name);
            let mut state = run(case.setup.clone());
            let mut events_only = state.clone();
            reduce(&mut state, sent(7, id, case.change.clone()));
            // The command shows at once, over the confirmed state.
            assert_eq!(
                state.shown(id).and_then(|(_, p)| p),
                Some(case.shown),
                "{name}"
            );
            let mut ended_by = None;
            for step in &order {
                let action = match step {
                    Step::Confirmation => case.confirmation.clone(),
                    Step::Refusal => refused(7),
                    Step::Deadline => due(),
                    Step::Live => case.live.clone(),
                };
                if matches!(step, Step::Confirmation | Step::Live) {
                    reduce(&mut events_only, action.clone());
                }
                reduce(&mut state, action);
                if ended_by.is_none() && *step != Step::Live {
                    ended_by = Some(*step);
                }
                // Until it ends, the row shows the command; after, the
                // relay's word alone.
                let shown = state.shown(id).and_then(|(_, p)| p);
                match ended_by {
                    None => assert_eq!(shown, Some(case.shown), "{name} after {step:?}"),
                    Some(_) => assert_eq!(shown, None, "{name} after {step:?}"),
                }
                // No event is ever lost to a command: the confirmed orders
                // are exactly what the events alone make.
                assert_eq!(
                    state.orders(),
                    events_only.orders(),
                    "{name} after {step:?}"
                );
            }
            assert!(state.commands().is_empty(), "{name}");
            let errors = errors(&state);
            match ended_by {
                Some(Step::Confirmation) => assert!(errors.is_empty(), "{name}: {errors:?}"),
                Some(Step::Refusal) => {
                    assert_eq!(errors.len(), 1, "{name}: {errors:?}");
                    assert!(errors[0].starts_with(case.refusal), "{name}: {errors:?}");
                    assert!(errors[0].ends_with("cannot be changed that way"), "{name}");
                }
                Some(Step::Deadline) => {
                    assert_eq!(errors.len(), 1, "{name}: {errors:?}");
                    assert!(errors[0].contains("not confirmed in time"), "{name}");
                }
                _ => unreachable!(),
            }
        }
    }
}

#[test]
fn a_rollback_shows_what_the_relay_last_said() {
    /// A name, what happens, the confirmed status after, what the row shows.
    type Case = (
        &'static str,
        Vec<Action>,
        Option<OrderStatus>,
        Option<Shown>,
    );
    let cases: Vec<Case> = vec![
        (
            "cancel refused: the confirmed status",
            vec![created("a", 1), sent(1, "a", Change::Cancel), refused(1)],
            Some(Pending),
            None,
        ),
        (
            "cancel refused after a live update: the live status",
            vec![
                created("a", 1),
                sent(1, "a", Change::Cancel),
                updated("a", Shipped, 2),
                refused(1),
            ],
            Some(Shipped),
            None,
        ),
        (
            "advance expired after a live cancel: cancelled",
            vec![
                created("a", 1),
                sent(1, "a", Change::Advance(Processing)),
                cancelled("a", 2),
                due(),
            ],
            Some(Cancelled),
            None,
        ),
        (
            "a snapshot confirms a cancel",
            vec![
                created("a", 1),
                sent(1, "a", Change::Cancel),
                snapshot(vec![{
                    let mut a = order("a", 1);
                    a.status = Cancelled;
                    a
                }]),
            ],
            Some(Cancelled),
            None,
        ),
        (
            "an update to another status does not confirm an advance",
            vec![
                created("a", 1),
                sent(1, "a", Change::Advance(Shipped)),
                updated("a", Processing, 2),
            ],
            Some(Processing),
            Some(Shown::Advancing(Shipped)),
        ),
        (
            "an unknown command's refusal changes nothing",
            vec![created("a", 1), sent(1, "a", Change::Cancel), refused(2)],
            Some(Pending),
            Some(Shown::Cancelling),
        ),
        (
            "a deadline not reached yet keeps it",
            vec![
                created("a", 1),
                sent(1, "a", Change::Cancel),
                Action::CommandsDue {
                    now: SENT_AT + CONFIRM_WITHIN_MS - 1.0,
                },
            ],
            Some(Pending),
            Some(Shown::Cancelling),
        ),
    ];
    for (name, actions, confirmed, shown) in cases {
        let state = run(actions);
        assert_eq!(status(&state, "a"), confirmed, "{name}");
        assert_eq!(state.shown("a").and_then(|(_, p)| p), shown, "{name}");
    }
}

#[test]
fn one_command_per_order_and_none_once_signed_out() {
    let state = run([
        created("a", 1),
        sent(1, "a", Change::Cancel),
        sent(2, "a", Change::Advance(Processing)),
    ]);
    assert_eq!(state.commands().len(), 1);
    assert_eq!(state.commands().on("a"), Some(Shown::Cancelling));

    let state = run([
        created("a", 1),
        sent(1, "a", Change::Cancel),
        Action::SignedOut { notice: None },
        sent(2, "a", Change::Cancel),
    ]);
    assert!(state.commands().is_empty());
}

#[test]
fn an_order_being_placed_is_one_row_before_and_after_its_event() {
    let mut placed = order("n", 50);
    placed.total = 12.5;
    let mut state = run([created("a", 1), sent(1, "n", Change::Place(placed))]);
    let ids = |s: &AppState| s.shown_ids().cloned().collect::<Vec<_>>();
    assert_eq!(ids(&state), ["n", "a"], "placing first");
    assert_eq!(state.shown("n").map(|(o, _)| o.total), Some(12.5));

    reduce(&mut state, created("n", 50));
    assert_eq!(ids(&state), ["n", "a"], "the event replaces it in place");
    assert_eq!(state.shown("n").map(|(_, p)| p), Some(None));
    assert!(state.commands().is_empty());

    // Refused: the row goes.
    let mut state = run([created("a", 1), sent(1, "n", Change::Place(order("n", 50)))]);
    reduce(&mut state, refused(1));
    assert_eq!(ids(&state), ["a"]);
}

#[test]
fn the_next_deadline_is_the_earliest() {
    let mut state = run([
        created("a", 1),
        created("b", 2),
        sent(1, "a", Change::Cancel),
    ]);
    reduce(
        &mut state,
        Action::CommandSent(Command {
            id: 2,
            order_id: "b".into(),
            change: Change::Cancel,
            deadline: SENT_AT,
        }),
    );
    assert_eq!(state.commands().next_deadline(), Some(SENT_AT));
    reduce(&mut state, Action::CommandsDue { now: SENT_AT });
    assert_eq!(state.commands().on("b"), None);
    assert_eq!(state.commands().on("a"), Some(Shown::Cancelling));
    assert_eq!(
        errors(&state),
        [format!(
            "The change to order #{} was not confirmed in time. It shows its last confirmed status.",
            order_number("b")
        )]
    );
}

#[test]
fn errors_stay_until_dismissed() {
    let state = run([created("a", 1), sent(1, "a", Change::Cancel), refused(1)]);
    let toast = &state.toasts.visible()[0];
    assert!(toast.stays());
    assert_eq!(toast.id, "command:1");
}
