//! Never lose a lead: every lead that must go somewhere is written to a persistent outbox
//! (`localStorage`) *before* the first send, and leaves it only when the endpoint answered
//! 2xx. Failed sends are retried with exponential backoff and jitter (honouring
//! `Retry-After`) while the page is open, when the browser comes back online, and whenever a
//! page that embeds the widget loads. A lead the endpoint refuses (4xx other than 408/429) is
//! kept as a dead letter and reported. Tabs of the same site take turns through the Web Locks
//! API (a lease in storage where it is missing), so two tabs never send the same lead at once;
//! the idempotency key makes any repeat harmless anyway. When the page goes away, pending
//! leads are handed to `navigator.sendBeacon`; sends in flight use `keepalive`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use leadgate_core::delivery::{retry_delay_ms, verdict, Verdict, DAY_MS};
use leadgate_core::json::{Node, Read};
pub use leadgate_core::outbox::Entry;
use leadgate_core::outbox::{read_entries, EventDetail};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use crate::delivery::{beacon_lead, post_lead};
use crate::events::emit;
use crate::storage::Store;

/// The storage key of the outbox.
const KEY: &str = "outbox";
/// The storage key of the lease used where Web Locks are missing.
const LEASE_KEY: &str = "outbox-lease";
/// The Web Locks name.
const LOCK_NAME: &str = "leadgate-outbox";

/// How a submitted lead stands after its first attempt (and later ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// Not delivered yet; saved in the outbox and retried.
    Queued,
    /// The endpoint refused it; kept as a dead letter.
    Refused,
    /// Not delivered, and the browser would not store it: only a manual retry can help.
    NotSaved,
}

type Listener = Box<dyn Fn(Outcome)>;

thread_local! {
    static STARTED: Cell<bool> = const { Cell::new(false) };
    static TIMER: Cell<Option<i32>> = const { Cell::new(None) };
    // (Short lists by lead id rather than maps: each map type costs KBs of wasm.)
    static LISTENERS: RefCell<Vec<(String, Element, Listener)>> = const { RefCell::new(Vec::new()) };
    static BEACONED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Leads that could not be stored, kept for a manual retry while the page is open.
    static IN_MEMORY: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    static TAB_ID: String = crate::signals::new_lead_id();
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// The stored entries; one that can't be read is skipped, not the whole outbox.
fn load(store: &Store) -> Vec<Entry> {
    store.get(KEY, read_entries).unwrap_or_default()
}

fn console_error(message: &str) {
    web_sys::console::error_1(&message.into());
}

/// Starts the outbox for this page (once): retries what earlier pages left, and listens for
/// `online` and for the page going away.
pub fn start() {
    if STARTED.with(|s| s.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let online = Closure::<dyn FnMut()>::new(|| wasm_bindgen_futures::spawn_local(flush()));
    let leaving = Closure::<dyn FnMut(web_sys::Event)>::new(|event: web_sys::Event| {
        let hidden = event.type_() == "pagehide"
            || web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden);
        if hidden {
            send_pending_by_beacon();
            crate::funnel::flush();
        }
    });
    let _ = window.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
    let _ = window.add_event_listener_with_callback("pagehide", leaving.as_ref().unchecked_ref());
    if let Some(document) = window.document() {
        let _ = document
            .add_event_listener_with_callback("visibilitychange", leaving.as_ref().unchecked_ref());
    }
    // Both listeners live as long as the page.
    online.forget();
    leaving.forget();
    wasm_bindgen_futures::spawn_local(flush());
}

/// Saves `entry` in the outbox, then makes the first attempt. `on_later` hears of any later
/// outcome (a retry that delivers it, a refusal) while the page is open; events go to `host`.
pub async fn submit(entry: Entry, limit: u32, host: Element, on_later: Listener) -> Outcome {
    let id = entry.id.clone();
    LISTENERS.with(|l| {
        let mut l = l.borrow_mut();
        l.retain(|(lead, ..)| *lead != id);
        l.push((id.clone(), host, on_later));
    });
    let saved = match Store::local() {
        Some(store) => {
            let mut entries = load(&store);
            tidy(&mut entries, now(), limit.max(1) as usize - 1);
            entries.push(entry.clone());
            match store.set(KEY, &entries) {
                Ok(()) => true,
                Err(e) => {
                    console_error(
                        &(String::from("leadgate: could not save the lead: ") + e.message()),
                    );
                    false
                }
            }
        }
        None => false,
    };
    if !saved {
        IN_MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            m.retain(|e| e.id != id);
            m.push(entry);
        });
    }
    let outcome = locked(move || async move { attempt(&id).await }).await;
    schedule();
    outcome.unwrap_or(if saved { Outcome::Queued } else { Outcome::NotSaved })
}

/// Tries a queued or refused lead again now (the visitor's "Try again").
pub async fn retry_now(id: String) -> Outcome {
    if let Some(store) = Store::local() {
        let mut entries = load(&store);
        if let Some(entry) = entries.iter_mut().find(|e| e.id == id) {
            entry.dead_until = None;
            entry.next_at = 0;
            let _ = store.set(KEY, &entries);
        }
    }
    let outcome = locked(move || async move { attempt(&id).await }).await;
    schedule();
    outcome.unwrap_or(Outcome::Queued)
}

/// Tries every lead that is due.
pub async fn flush() {
    let _ = locked(|| async {
        let Some(store) = Store::local() else { return };
        let mut entries = load(&store);
        let before = entries.len();
        tidy(&mut entries, now(), usize::MAX);
        if entries.len() != before {
            let _ = store.set(KEY, &entries);
        }
        let due: Vec<String> = entries
            .iter()
            .filter(|e| e.dead_until.is_none() && e.next_at <= now())
            .map(|e| e.id.clone())
            .collect();
        for id in due {
            attempt(&id).await;
        }
    })
    .await;
    schedule();
}

/// One attempt for lead `id`, inside the lock: reads the entry fresh (another tab may have
/// delivered it), sends, and records the verdict.
async fn attempt(id: &str) -> Outcome {
    let store = Store::local();
    let memory = IN_MEMORY.with(|m| m.borrow().iter().find(|e| e.id == id).cloned());
    let stored = store.as_ref().and_then(|s| load(s).into_iter().find(|e| e.id == id));
    let Some(mut entry) = stored.or(memory.clone()) else {
        // Gone from the outbox: delivered by another tab (or expired there).
        return Outcome::Delivered;
    };
    if entry.dead_until.is_some() {
        return Outcome::Refused;
    }
    let answer = post_lead(&entry.endpoint, &entry.id, &entry.body).await;
    entry.attempts += 1;
    let verdict = verdict(answer.status);
    let outcome = match verdict {
        Verdict::Delivered => Outcome::Delivered,
        Verdict::Retry if memory.is_some() => Outcome::NotSaved,
        Verdict::Retry => Outcome::Queued,
        Verdict::Refused => Outcome::Refused,
    };
    let problem = answer.problem.clone().unwrap_or_default();
    match verdict {
        Verdict::Delivered => {
            IN_MEMORY.with(|m| m.borrow_mut().retain(|e| e.id != id));
            update(store.as_ref(), id, |_| None);
        }
        Verdict::Retry => {
            let delay = retry_delay_ms(
                entry.attempts,
                0.7 + js_sys::Math::random() * 0.6,
                answer.retry_after,
            );
            entry.next_at = now() + delay;
            entry.last_error = answer.problem.clone();
            let kept = entry.clone();
            update(store.as_ref(), id, move |_| Some(kept));
            web_sys::console::warn_1(
                &(String::from("leadgate: lead ")
                    + id
                    + " not delivered yet ("
                    + &problem
                    + "); it is kept and retried in "
                    + &(delay / 1000).to_string()
                    + " s")
                    .into(),
            );
        }
        Verdict::Refused => {
            entry.dead_until = Some(now() + u64::from(entry.dead_letter_days) * DAY_MS);
            entry.last_error = answer.problem.clone();
            let kept = entry.clone();
            update(store.as_ref(), id, move |_| Some(kept));
            console_error(
                &(String::from("leadgate: the endpoint refused lead ")
                    + id
                    + " ("
                    + &problem
                    + "); it is kept as a dead letter and not retried"),
            );
        }
    }
    report(&entry.id, &entry.detail, outcome, &problem);
    outcome
}

/// Tells the form (if it is on this page) and the host page how a lead stands.
fn report(id: &str, detail: &EventDetail, outcome: Outcome, problem: &str) {
    let host = LISTENERS.with(|l| {
        l.borrow().iter().find(|(lead, ..)| lead == id).map(|(_, host, listener)| {
            listener(outcome);
            host.clone()
        })
    });
    let host = host.or_else(|| {
        web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
    });
    let Some(host) = host else { return };
    let mut detail = detail.clone();
    match outcome {
        Outcome::Delivered => {
            LISTENERS.with(|l| l.borrow_mut().retain(|(lead, ..)| lead != id));
            emit(&host, "leadgate:delivered", &detail);
        }
        Outcome::Refused | Outcome::NotSaved => {
            detail.error = Some(problem.to_string());
            emit(&host, "leadgate:error", &detail);
        }
        Outcome::Queued => {}
    }
}

/// Rewrites the stored entry `id` (`None` removes it).
fn update(store: Option<&Store>, id: &str, change: impl FnOnce(Entry) -> Option<Entry>) {
    let Some(store) = store else { return };
    let mut entries = load(store);
    if let Some(i) = entries.iter().position(|e| e.id == id) {
        let entry = entries.remove(i);
        if let Some(entry) = change(entry) {
            entries.insert(i, entry);
        }
        if let Err(e) = store.set(KEY, &entries) {
            console_error(&(String::from("leadgate: could not update the outbox: ") + e.message()));
        }
    }
}

/// Drops expired leads and old dead letters, and the oldest leads past `room`; each drop is
/// reported (console and `leadgate:error`).
fn tidy(entries: &mut Vec<Entry>, now: u64, room: usize) {
    let mut dropped = Vec::new();
    entries.retain(|e| {
        let keep = match e.dead_until {
            Some(until) => until > now,
            None => e.expires_at > now,
        };
        if !keep {
            dropped.push((e.clone(), "it expired undelivered"));
        }
        keep
    });
    while entries.len() > room {
        dropped.push((entries.remove(0), "the outbox was full (oldest dropped first)"));
    }
    for (entry, why) in dropped {
        let message = String::from("leadgate: dropped lead ") + &entry.id + ": " + why;
        console_error(&message);
        report(&entry.id, &entry.detail, Outcome::NotSaved, &message);
    }
}

/// Arms one timer for the earliest retry.
fn schedule() {
    let Some(window) = web_sys::window() else { return };
    if let Some(old) = TIMER.with(|t| t.take()) {
        window.clear_timeout_with_handle(old);
    }
    let Some(store) = Store::local() else { return };
    let Some(next) =
        load(&store).iter().filter(|e| e.dead_until.is_none()).map(|e| e.next_at).min()
    else {
        return;
    };
    let wait = next.saturating_sub(now()).min(i32::MAX as u64) as i32;
    let run = Closure::once_into_js(|| {
        TIMER.with(|t| t.set(None));
        wasm_bindgen_futures::spawn_local(flush());
    });
    let id =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(run.unchecked_ref(), wait);
    TIMER.with(|t| t.set(id.ok()));
}

/// The page is going away: hand every pending lead to the browser's beacon queue, once per
/// lead and page. They stay in the outbox; the next page confirms them (the endpoint stores a
/// lead once however often it arrives).
fn send_pending_by_beacon() {
    let Some(store) = Store::local() else { return };
    for entry in load(&store).iter().filter(|e| e.dead_until.is_none()) {
        let first = BEACONED.with(|b| {
            let mut sent = b.borrow_mut();
            let first = !sent.contains(&entry.id);
            if first {
                sent.push(entry.id.clone());
            }
            first
        });
        if first && !beacon_lead(&entry.endpoint, &entry.id, &entry.body) {
            BEACONED.with(|b| b.borrow_mut().retain(|id| *id != entry.id));
        }
    }
}

/// Runs `work` while holding the outbox lock shared by every tab of the site: the Web Locks
/// API where present, else a lease in storage. `None` when the lock could not be taken.
async fn locked<F, Fut, T>(work: F) -> Option<T>
where
    F: FnOnce() -> Fut + 'static,
    Fut: Future<Output = T> + 'static,
    T: 'static,
{
    let locks = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"locks".into()).ok())
        .filter(|l| !l.is_undefined() && !l.is_null());
    let Some(locks) = locks else { return with_lease(work).await };
    let request = js_sys::Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|r| r.dyn_into::<js_sys::Function>().ok())?;
    let work: Rc<RefCell<Option<F>>> = Rc::new(RefCell::new(Some(work)));
    let out: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
    // A run of `work` under the lock, after `settle_ms`.
    let run = |settle_ms: i32| {
        let (work, out) = (work.clone(), out.clone());
        Closure::once_into_js(move |lock: JsValue| -> js_sys::Promise {
            let Some(work) = (!lock.is_null()).then(|| work.borrow_mut().take()).flatten() else {
                return js_sys::Promise::resolve(&JsValue::FALSE);
            };
            wasm_bindgen_futures::future_to_promise(async move {
                if settle_ms > 0 {
                    crate::delivery::sleep(settle_ms).await;
                }
                let value = work().await;
                *out.borrow_mut() = Some(value);
                Ok(JsValue::TRUE)
            })
        })
    };
    let request_lock = |options: Option<&JsValue>, callback: &JsValue| {
        let promise = match options {
            Some(options) => request.call3(&locks, &LOCK_NAME.into(), options, callback),
            None => request.call2(&locks, &LOCK_NAME.into(), callback),
        };
        promise.ok().and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
    };
    // First: take the lock only if it is free.
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE).ok()?;
    let first = request_lock(Some(&options), &run(0))?;
    wasm_bindgen_futures::JsFuture::from(first).await.ok()?;
    if out.borrow().is_none() && work.borrow().is_some() {
        // Another tab holds it: wait for it, then give that tab's last storage writes time to
        // reach this one (localStorage syncs between tabs asynchronously) before reading.
        let second = request_lock(None, &run(300))?;
        wasm_bindgen_futures::JsFuture::from(second).await.ok()?;
    }
    let value = out.borrow_mut().take();
    value
}

#[derive(Serialize)]
struct Lease {
    owner: String,
    until: u64,
}

impl Lease {
    fn read(node: &Node) -> Read<Lease> {
        let obj = node.any_object()?;
        Ok(Lease { owner: obj.need("owner")?.string()?, until: obj.need("until")?.unsigned()? })
    }
}

/// The fallback lock: a lease in storage, confirmed after a short wait (writes from other
/// tabs reach this one asynchronously).
async fn with_lease<F, Fut, T>(work: F) -> Option<T>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let Some(store) = Store::local() else { return Some(work().await) };
    let me = TAB_ID.with(Clone::clone);
    for _ in 0..50 {
        let free =
            store.get(LEASE_KEY, Lease::read).is_none_or(|l| l.until < now() || l.owner == me);
        if free {
            let _ = store.set(LEASE_KEY, &Lease { owner: me.clone(), until: now() + 30_000 });
            crate::delivery::sleep(100).await;
            if store.get(LEASE_KEY, Lease::read).is_some_and(|l| l.owner == me) {
                let value = work().await;
                store.remove(LEASE_KEY);
                return Some(value);
            }
        }
        crate::delivery::sleep(200).await;
    }
    None
}
