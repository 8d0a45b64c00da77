//! The toast queue, driven through the reducer as the app drives it: cap,
//! queue, dismissal, and no repeats of a fact already shown.

use super::{Toast, ToastKind, QUEUE_CAP, VISIBLE_CAP};
use crate::fixtures::{run, signed_in};
use crate::reduce::reduce;
use crate::state::Action;

#[test]
fn toast_actions() {
    let toast = |id: &str| Action::PushToast(Toast::new(id, ToastKind::Info, id));
    let dismiss = |id: &str| Action::DismissToast(id.into());
    // (name, actions, visible ids, waiting ids)
    type Case = (
        &'static str,
        Vec<Action>,
        Vec<&'static str>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        ("a toast shows", vec![toast("a")], vec!["a"], vec![]),
        (
            "the same id shows once",
            vec![toast("a"), toast("a")],
            vec!["a"],
            vec![],
        ),
        (
            "past the cap toasts wait",
            vec![toast("a"), toast("b"), toast("c"), toast("d")],
            vec!["a", "b", "c"],
            vec!["d"],
        ),
        (
            "dismissing frees a slot for the oldest waiting toast",
            vec![toast("a"), toast("b"), toast("c"), toast("d"), dismiss("b")],
            vec!["a", "c", "d"],
            vec![],
        ),
        (
            "a dismissed toast does not come back when its event is re-sent",
            vec![toast("a"), dismiss("a"), toast("a")],
            vec![],
            vec![],
        ),
        (
            "dismissing an unknown id does nothing",
            vec![toast("a"), dismiss("zz")],
            vec!["a"],
            vec![],
        ),
    ];
    for (name, actions, visible, waiting) in cases {
        let state = run(actions);
        let ids =
            |toasts: Vec<&Toast>| toasts.into_iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(state.toasts.visible().iter().collect()),
            visible,
            "{name}"
        );
        assert_eq!(ids(state.toasts.waiting().collect()), waiting, "{name}");
    }
    assert_eq!(VISIBLE_CAP, 3);
}

#[test]
fn the_seen_set_is_bounded_and_the_queue_is_capped() {
    let mut state = signed_in();
    for i in 0..400 {
        reduce(
            &mut state,
            Action::PushToast(Toast::new(format!("t{i}"), ToastKind::Info, "x")),
        );
    }
    assert_eq!(state.toasts.visible().len(), VISIBLE_CAP);
    assert_eq!(state.toasts.waiting().count(), QUEUE_CAP);
    // The oldest ids have been forgotten, so they may show again.
    reduce(
        &mut state,
        Action::PushToast(Toast::new("t0", ToastKind::Info, "x")),
    );
    assert_eq!(
        state.toasts.waiting().last().map(|t| t.id.as_str()),
        Some("t0")
    );
}

#[test]
fn toasts_show_where_the_user_looks() {
    use super::{Attention, HELD_CAP};
    let toast = |id: &str| Action::PushToast(Toast::new(id, ToastKind::Info, id));
    let error = |id: &str| Action::PushToast(Toast::new(id, ToastKind::Error, id));
    let look = |a: Attention| Action::Attention(a);
    // (name, actions, visible texts, held ids)
    type Case = (
        &'static str,
        Vec<Action>,
        Vec<&'static str>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "a hidden tab holds toasts",
            vec![look(Attention::Away), toast("a")],
            vec![],
            vec!["a"],
        ),
        (
            "coming back shows them",
            vec![
                look(Attention::Away),
                toast("a"),
                toast("b"),
                look(Attention::Looking),
            ],
            vec!["a", "b"],
            vec![],
        ),
        (
            "many come back as one summary",
            vec![
                look(Attention::Away),
                toast("a"),
                toast("b"),
                toast("c"),
                toast("d"),
                look(Attention::Looking),
            ],
            vec!["4 order updates while you were away"],
            vec![],
        ),
        (
            "another tab looked at shows them: dropped here",
            vec![
                look(Attention::Away),
                toast("a"),
                look(Attention::Elsewhere),
                toast("b"),
            ],
            vec![],
            vec![],
        ),
        (
            "an error answers this tab's own command: it shows anyway",
            vec![look(Attention::Elsewhere), error("e")],
            vec!["e"],
            vec![],
        ),
        (
            "a held toast is not held twice",
            vec![look(Attention::Away), toast("a"), toast("a")],
            vec![],
            vec!["a"],
        ),
    ];
    for (name, actions, visible, held) in cases {
        let state = run(actions);
        let texts: Vec<_> = state
            .toasts
            .visible()
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(texts, visible, "{name}");
        let ids: Vec<_> = state.toasts.held().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, held, "{name}");
    }

    let mut state = run(vec![look(Attention::Away)]);
    for i in 0..HELD_CAP + 10 {
        reduce(&mut state, toast(&format!("t{i}")));
    }
    assert_eq!(
        state.toasts.held().len(),
        HELD_CAP,
        "held toasts are bounded"
    );
}
