//! The organisation: teams, the services they own and the repositories the
//! services live in.

use super::{Buffers, GeneratorConfig, Sink};
use crate::error::Result;
use crate::store::rows::TeamRow;

const TEAM_NAMES: [&str; 12] = [
    "payments",
    "search",
    "checkout",
    "identity",
    "platform",
    "mobile",
    "growth",
    "data",
    "messaging",
    "catalog",
    "billing",
    "infra",
];

#[derive(Debug, Clone)]
pub(super) struct ServicePlan {
    pub(super) name: String,
    pub(super) repo: String,
    /// Index of the owning team (pace source).
    pub(super) team: usize,
}

#[derive(Debug, Clone)]
pub(super) struct TeamPlan {
    pub(super) name: String,
    pub(super) services: Vec<usize>,
    /// >1 deploys more often, merges faster and fails less.
    pub(super) pace: f64,
}

pub(super) fn plan(config: &GeneratorConfig) -> (Vec<TeamPlan>, Vec<ServicePlan>) {
    let mut teams = Vec::new();
    let mut services: Vec<ServicePlan> = Vec::new();
    let paces = [2.2, 1.0, 0.45, 1.4, 0.7, 0.25];
    for t in 0..config.teams.max(1) {
        let base = TEAM_NAMES[t % TEAM_NAMES.len()];
        let name = if t < TEAM_NAMES.len() {
            base.to_string()
        } else {
            format!("{base}-{}", t / TEAM_NAMES.len() + 1)
        };
        let monorepo = t % 3 == 2;
        let mut owned = Vec::new();
        for kind in ["api", "worker"] {
            let service = format!("{name}-{kind}");
            let repo = if monorepo {
                format!("acme/{name}")
            } else {
                format!("acme/{service}")
            };
            owned.push(services.len());
            services.push(ServicePlan {
                name: service,
                repo,
                team: t,
            });
        }
        teams.push(TeamPlan {
            name,
            services: owned,
            pace: paces[t % paces.len()],
        });
    }
    if teams.len() >= 2 {
        // A gateway owned by the first two teams together.
        let idx = services.len();
        services.push(ServicePlan {
            name: "gateway".into(),
            repo: "acme/gateway".into(),
            team: 0,
        });
        teams[0].services.push(idx);
        teams[1].services.push(idx);
    }
    (teams, services)
}

/// One `teams` row per service a team owns.
pub(super) fn push_teams(
    teams: &[TeamPlan],
    services: &[ServicePlan],
    buf: &mut Buffers,
    sink: &mut dyn Sink,
) -> Result<()> {
    for team in teams {
        for &s in &team.services {
            buf.push(
                sink,
                &TeamRow {
                    team: &team.name,
                    service: &services[s].name,
                },
            )?;
        }
    }
    Ok(())
}
