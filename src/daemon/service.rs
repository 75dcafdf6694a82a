//! What the daemon knows and does: the pipeline run and applied on every trigger, the last
//! result kept for `status`, the `offload` object's methods answered, and the events
//! those applies produce, queued until the bus can send them.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value as Json};

use super::bus::{Answer, Inbound};
use crate::apply::{self, Applied, KernelState};
use crate::config::{Config, Warnings};
use crate::error::Error;
use crate::plan::OffloadPlan;
use crate::report::{query, ApplyCounts, Devices, LastApply, Source, Status};
use crate::ruleset::Ruleset;
use crate::stats::Sources;
use crate::topology::Netifd;
use crate::ubus::call::call;
use crate::ubus::message::Status as UbusStatus;
use crate::System;

/// netifd answers from memory; a slow answer means a busy router, not a bigger dump.
const NETIFD_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Service {
    system: System,
    sources: Sources,
    /// ubusd's socket, to ask netifd for the interfaces' devices before each apply; `None`
    /// when the caller gave netifd's view (`--netifd`, a snapshot's `netifd.json`).
    ubus: Option<PathBuf>,
    /// The config as last read, with its warnings. A link event changes devices, not
    /// files, so it reuses it; whatever may follow a config change (start, SIGHUP,
    /// `ubus call offload reload`, a netifd event) reads it again.
    config: Option<(Config, Warnings)>,
    /// Why netifd's view is not used, logged once until it is again.
    netifd_unavailable: Option<String>,
    /// The plan the last apply that succeeded loaded, with the kernel's fallback reasons.
    applied: Option<OffloadPlan>,
    /// What that apply left in the kernel, for the next one to start from without reading
    /// it. Taken by every apply, so that only success puts it back; forgotten on reload.
    kernel: Option<KernelState>,
    last: Option<LastApply>,
    applies: ApplyCounts,
    events: Vec<(&'static str, Map<String, Json>)>,
}

/// A ubus payload is a table: every report here is a struct, so a JSON object.
fn object(value: Json) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Service {
    pub fn new(system: System, sources: Sources, ubus: PathBuf) -> Service {
        Service {
            ubus: system.netifd.is_none().then_some(ubus),
            system,
            sources,
            config: None,
            netifd_unavailable: None,
            applied: None,
            kernel: None,
            last: None,
            applies: ApplyCounts::default(),
            events: Vec::new(),
        }
    }

    /// netifd's view of the interfaces (`network.interface dump`), or `None` when it
    /// cannot be had: then zones resolve through /etc/config/network alone.
    fn netifd(&mut self) -> Option<Netifd> {
        let ubus = self.ubus.as_ref()?;
        let dump = call(
            ubus,
            "network.interface",
            "dump",
            &Map::new(),
            NETIFD_TIMEOUT,
        )
        .map_err(|e| e.to_string())
        .and_then(|dump| Netifd::from_dump(&Json::Object(dump)).map_err(|e| e.to_string()));
        match dump {
            Ok(netifd) => {
                if self.netifd_unavailable.take().is_some() {
                    log::info!("netifd: interfaces resolve through netifd again");
                }
                Some(netifd)
            }
            Err(e) => {
                if self.netifd_unavailable.as_ref() != Some(&e) {
                    log::warn!("netifd: {e}; interfaces resolve through the network config");
                }
                self.netifd_unavailable = Some(e);
                None
            }
        }
    }

    /// The config may have changed: the next apply reads it again.
    pub fn config_changed(&mut self) {
        self.config = None;
    }

    /// The next apply reads the kernel's state, whatever the last one left.
    pub fn forget_kernel_state(&mut self) {
        self.kernel = None;
    }

    /// `device` went away, and the kernel dropped its hooks.
    pub fn device_removed(&mut self, device: &str) {
        if let Some(state) = &mut self.kernel {
            state.unhook(device);
        }
    }

    /// Reads the config and the kernel's state again, then applies as
    /// [`Service::refresh`] does.
    pub fn reload(&mut self, trigger: &str) -> &LastApply {
        self.config_changed();
        self.forget_kernel_state();
        self.refresh(trigger)
    }

    /// Runs the pipeline over the topology as it is now and applies; on failure the
    /// loaded ruleset stays as it was. A device the plan names that went away between
    /// reading the links and the commit (ENOENT: its link event is on its way) is not an
    /// error: the topology is read again, once.
    pub fn refresh(&mut self, trigger: &str) -> &LastApply {
        if self.ubus.is_some() {
            self.system.netifd = self.netifd();
        }
        let system = &self.system;
        // The config as last read, or read now; each attempt plans over a copy of it.
        let config = match &mut self.config {
            Some(config) => Ok(&*config),
            unread => system.read_config().map(|read| &*unread.insert(read)),
        };
        let attempt = |config: &(Config, Warnings), kernel: Option<KernelState>| {
            system
                .read_topology(config.clone())
                .and_then(|inputs| apply::apply(|refusal| inputs.plan(refusal), false, kernel))
        };
        let kernel = self.kernel.take();
        let result = config.and_then(|config| match attempt(config, kernel) {
            Err(Error::Kernel { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
                log::info!("{trigger}: a device went away while applying: reading again");
                attempt(config, None)
            }
            result => result,
        });
        let mut last = LastApply {
            trigger: trigger.to_string(),
            time: now(),
            changes: Vec::new(),
            fallback: None,
            error: None,
        };
        self.applies.total += 1;
        match result {
            Ok(applied) => {
                last.changes = applied.changes.clone();
                last.fallback = applied.fallback.clone();
                self.announce(&last, &applied);
                self.kernel = applied.committed;
                self.applied = Some(applied.plan);
            }
            Err(e) => {
                self.applies.errors += 1;
                last.error = Some(e.to_string());
                log::error!("{trigger}: apply failed, the loaded ruleset stays as it was: {e}");
                self.events.push((
                    "offload.error",
                    object(json!({ "trigger": trigger, "error": last.error })),
                ));
            }
        }
        self.last.insert(last)
    }

    /// Logs and queues the events for an apply that succeeded.
    fn announce(&mut self, last: &LastApply, applied: &Applied) {
        let trigger = &last.trigger;
        match applied.changes.as_slice() {
            [] => log::debug!("{trigger}: the kernel already holds the plan"),
            changes => {
                log::info!("{trigger}: applied: {}", changes.join("; "));
                let devices: Vec<&str> = applied
                    .plan
                    .flowtable_devices()
                    .map(|d| d.name.as_str())
                    .collect();
                self.events.push((
                    "offload.applied",
                    object(json!({
                        "trigger": trigger,
                        "changes": changes,
                        "devices": devices,
                        "hardware": applied.plan.hardware(),
                    })),
                ));
            }
        }
        if let Some(note) = &applied.unanswered {
            log::warn!("{trigger}: {note}");
        }
        if let Some(reason) = &applied.fallback {
            log::warn!("{trigger}: {reason}; software offload applied");
            let reasons: Map<String, Json> = applied
                .plan
                .flowtable_devices()
                .map(|d| (d.name.clone(), Json::from(d.reason.clone())))
                .collect();
            self.events.push((
                "offload.fallback",
                object(json!({ "reason": reason, "devices": reasons })),
            ));
        }
    }

    /// Events produced since the last call.
    pub fn take_events(&mut self) -> Vec<(&'static str, Map<String, Json>)> {
        std::mem::take(&mut self.events)
    }

    /// The plan the kernel should hold: as last applied, or computed now when no apply
    /// has succeeded yet.
    fn plan(&self) -> Result<Cow<'_, OffloadPlan>, String> {
        match &self.applied {
            Some(plan) => Ok(Cow::Borrowed(plan)),
            None => match self.system.run() {
                Ok(outcome) => Ok(Cow::Owned(outcome.plan)),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    pub fn status(&self) -> Result<Status, String> {
        let plan = self.plan()?;
        let loaded = apply::inspect(&Ruleset::from_plan(&plan)).map_err(|e| e.to_string());
        Ok(Status {
            applies: Some(self.applies),
            ..Status::gather(
                Source::Daemon,
                &plan,
                loaded,
                &self.sources,
                self.last.clone(),
            )
        })
    }

    /// Answers a call of the `offload` object; an event is acknowledged (the main loop
    /// schedules the reload it asks for).
    pub fn answer(&mut self, inbound: Inbound<'_>) -> Answer {
        let Inbound::Call { method, args } = inbound else {
            return Answer::status(UbusStatus::Ok);
        };
        let failed = |error: String| Answer {
            data: Some(object(json!({ "error": error }))),
            status: UbusStatus::UnknownError,
        };
        match method {
            "status" => match self.status() {
                Ok(status) => Answer::ok(object(json!(status))),
                Err(e) => failed(e),
            },
            "devices" => match self.plan() {
                Ok(plan) => Answer::ok(object(json!(Devices {
                    devices: plan.into_owned().devices
                }))),
                Err(e) => failed(e),
            },
            "flows" => match query::from_ubus(args) {
                Ok(query) => match self.sources.flows(&query) {
                    Ok(page) => Answer::ok(object(json!(page))),
                    Err(e) => failed(e),
                },
                Err(e) => {
                    log::info!("ubus: flows: {e}");
                    Answer::status(UbusStatus::InvalidArgument)
                }
            },
            "reload" => {
                let last = self.reload("ubus reload").clone();
                match &last.error {
                    None => Answer::ok(object(json!(last))),
                    Some(_) => Answer {
                        data: Some(object(json!(last))),
                        status: UbusStatus::UnknownError,
                    },
                }
            }
            _ => Answer::status(UbusStatus::MethodNotFound),
        }
    }
}
