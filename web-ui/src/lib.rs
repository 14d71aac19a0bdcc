//! # web-ui: svclab's browser playground
//!
//! The Yew + Trunk front end (the playground, visualizer and terminal) is built on top of this
//! crate's pure view models, which turn a `lab-core` cluster into exactly what a view draws. They
//! have no Yew imports, so they are tested natively like the rest of the core (the Yew examples'
//! habit: components stay small and dumb, logic lives in plain modules). The Yew components are
//! in the `app` binary (`src/main.rs`, `src/app/`), which `scripts/build-web` builds with trunk.
//!
//! Start with [`playground`]: the page state and the actions that change it.
//!
//! - [`playground`] — the page state (an in-page `Cluster::kind()`), [`playground::Action`] and
//!   the reducer.
//! - [`map`] — the cluster map: nodes with their pods, Services with their virtual IPs and the
//!   lines to the endpoints behind them.
//! - [`layout`] — where the map's SVG draws each of those.
//! - [`rules`] — a node's kube-proxy rules in the mode's own text, narrowed to one Service.
//! - [`dns`] — one question from one pod: its nslookup, dig and the C library's walk, side by side.
//! - [`editor`] — the YAML editor's errors, placed at the line of the field they name.
//! - [`labs`] — the guided labs of `labs/` (embedded), started, solved and graded in the page.
//! - [`live`] — the live view: `?live=BASE` follows a running cluster (the sim, or any through
//!   `kubectl proxy`), its objects read as they are, with the predicted rules and DNS answers.
//! - [`share`] — share links, embeds and the saved state: a scenario is its action log.
//! - [`scale`] — iptables vs IPVS vs nftables at 1 / 5,000 / 20,000 Services: the worker's
//!   messages, the charts and the chapter's table beside the measurements.
//! - [`trace`] — one packet's journey (lookup, rules, DNAT, the pod reached) as stages.
//! - [`i18n`] — the visible strings in zh-CN and English.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dns;
pub mod editor;
pub mod i18n;
pub mod labs;
pub mod layout;
pub mod live;
pub mod map;
pub mod playground;
pub mod rules;
pub mod scale;
pub mod share;
pub mod trace;
