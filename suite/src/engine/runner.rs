//! Runs checks concurrently (bounded) and reports them in registry order, whatever order they
//! finish in, so every output of a run is deterministic. A check that overruns its deadline or
//! panics ends in `Error` with the reason; the run goes on.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use futures::stream::{self, StreamExt as _};

use crate::check::{CheckMeta, Outcome};
use crate::engine::select::Selection;

/// What a run's context says about where each check applies, read once per check by the
/// runner (design.md "Where a verdict applies") so that no check repeats it.
pub trait Applicability {
    /// The outcome of a check this run cannot evaluate, decided without running it.
    fn precluded(&self, _meta: &CheckMeta) -> Option<Outcome> {
        None
    }

    /// The check's outcome at the level in force in this run (spec version, profiles).
    fn in_force(&self, _meta: &CheckMeta, outcome: Outcome) -> Outcome {
        outcome
    }
}

/// The future a check's logic returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// The logic of a check: a closure, so rows of a table can carry their data.
pub type CheckFn<C> = Box<dyn for<'a> Fn(&'a C) -> CheckFuture<'a> + Send + Sync>;

/// A check over a context `C`: metadata plus logic.
pub struct Check<C> {
    pub meta: CheckMeta,
    pub run: CheckFn<C>,
}

impl<C> Check<C> {
    pub fn new(
        meta: CheckMeta,
        run: impl for<'a> Fn(&'a C) -> CheckFuture<'a> + Send + Sync + 'static,
    ) -> Self {
        Self {
            meta,
            run: Box::new(run),
        }
    }
}

/// How a run is executed.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub concurrency: usize,
    pub check_deadline: Duration,
    /// Ids of checks that mostly wait, started before the others so that their waits overlap
    /// the run instead of forming its tail (the catalogue names them: `catalog::STARTED_FIRST`).
    pub started_first: &'static [&'static str],
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            check_deadline: Duration::from_secs(30),
            started_first: &[],
        }
    }
}

/// One selected check, ready to run against its context.
pub struct Job<'a> {
    pub meta: CheckMeta,
    run: CheckFuture<'a>,
}

/// The selected checks of `checks` as jobs over `ctx`, in registry order: precluded, run
/// under the deadline with panics caught, then set at the level in force.
pub fn jobs<'a, C: Sync + Applicability>(
    checks: &'a [Check<C>],
    selection: &Selection,
    ctx: &'a C,
    options: RunOptions,
) -> Vec<Job<'a>> {
    checks
        .iter()
        .filter(|c| selection.selects(c.meta.id))
        .map(|check| Job {
            meta: check.meta,
            run: Box::pin(async move {
                let started = Instant::now();
                if let Some(mut outcome) = ctx.precluded(&check.meta) {
                    outcome.duration = started.elapsed();
                    return outcome;
                }
                let guarded = std::panic::AssertUnwindSafe((check.run)(ctx)).catch_unwind();
                let deadline = check.meta.deadline.unwrap_or(options.check_deadline);
                let outcome = match tokio::time::timeout(deadline, guarded).await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(_)) => {
                        Outcome::error("the check panicked (a bug in mcp-authspec)", Vec::new())
                    }
                    Err(_) => Outcome::error(
                        format!("the check did not finish within {deadline:?}"),
                        Vec::new(),
                    ),
                };
                let mut outcome = ctx.in_force(&check.meta, outcome);
                outcome.duration = started.elapsed();
                outcome
            }),
        })
        .collect()
}

/// Runs the selected checks and calls `on_finished` for each in registry order.
pub async fn run<C: Sync + Applicability>(
    checks: &[Check<C>],
    selection: &Selection,
    ctx: &C,
    options: RunOptions,
    on_finished: impl FnMut(&CheckMeta, &Outcome),
) -> Vec<(CheckMeta, Outcome)> {
    run_jobs(jobs(checks, selection, ctx, options), options, on_finished).await
}

/// Runs `jobs`, `options.concurrency` at once, and calls `on_finished` for each in the order given,
/// whatever order they finish in. A slot is taken again as soon as its check ends (a slow
/// check holds one slot, not the queue behind it), and the checks of
/// `options.started_first`, which mostly wait, start before the others so that their waits
/// overlap the run instead of forming its tail.
pub async fn run_jobs(
    jobs: Vec<Job<'_>>,
    options: RunOptions,
    mut on_finished: impl FnMut(&CheckMeta, &Outcome),
) -> Vec<(CheckMeta, Outcome)> {
    let metas: Vec<CheckMeta> = jobs.iter().map(|j| j.meta).collect();
    let mut indexed: Vec<(usize, Job<'_>)> = jobs.into_iter().enumerate().collect();
    // Stable: registry order otherwise.
    indexed.sort_by_key(|(_, job)| !options.started_first.contains(&job.meta.id));
    let mut outcomes = stream::iter(
        indexed
            .into_iter()
            .map(|(index, job)| job.run.map(move |outcome| (index, outcome))),
    )
    .buffer_unordered(options.concurrency.max(1));
    let mut finished: Vec<Option<Outcome>> = metas.iter().map(|_| None).collect();
    let mut results = Vec::with_capacity(metas.len());
    while let Some((index, outcome)) = outcomes.next().await {
        finished[index] = Some(outcome);
        while let Some(outcome) = finished.get_mut(results.len()).and_then(Option::take) {
            let meta = metas[results.len()];
            on_finished(&meta, &outcome);
            results.push((meta, outcome));
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Verdict};

    impl Applicability for u64 {}
    impl Applicability for std::sync::Mutex<Vec<&'static str>> {}

    fn meta(id: &'static str) -> CheckMeta {
        CheckMeta {
            id,
            row: "test",
            title: id,
            summary: "",
            level: Level::Must,
            applies: crate::check::Applies::Always,
            deadline: None,
            refs: &[],
            needs: &[],
            tags: &[],
            broken_by: &[],
        }
    }

    fn slow(ms: &u64) -> CheckFuture<'_> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            Outcome::new(Verdict::Pass, "slept")
        })
    }

    fn hang(_: &u64) -> CheckFuture<'_> {
        Box::pin(std::future::pending())
    }

    fn explode(_: &u64) -> CheckFuture<'_> {
        Box::pin(async { panic!("boom") })
    }

    #[tokio::test]
    async fn order_is_registry_order_and_failures_are_contained() {
        let checks = vec![
            Check {
                meta: meta("rs.a.slow"),
                run: Box::new(slow),
            },
            Check {
                meta: meta("rs.a.hang"),
                run: Box::new(hang),
            },
            Check {
                meta: meta("rs.a.panic"),
                run: Box::new(explode),
            },
            Check {
                meta: meta("rs.b.fast"),
                run: Box::new(slow),
            },
        ];
        let options = RunOptions {
            concurrency: 4,
            check_deadline: Duration::from_millis(200),
            ..RunOptions::default()
        };
        let mut seen = Vec::new();
        let results = run(&checks, &Selection::default(), &20u64, options, |m, _| {
            seen.push(m.id)
        })
        .await;
        assert_eq!(seen, ["rs.a.slow", "rs.a.hang", "rs.a.panic", "rs.b.fast"]);
        let verdicts: Vec<_> = results.iter().map(|(_, o)| o.verdict).collect();
        assert_eq!(
            verdicts,
            [Verdict::Pass, Verdict::Error, Verdict::Error, Verdict::Pass]
        );
        assert!(results[1].1.message.contains("did not finish"));
        assert!(results[2].1.message.contains("panicked"));
    }

    #[tokio::test]
    async fn waiting_checks_start_first_and_report_in_registry_order() {
        fn note(
            started: &std::sync::Mutex<Vec<&'static str>>,
            id: &'static str,
        ) -> CheckFuture<'static> {
            started.lock().unwrap().push(id);
            Box::pin(async { Outcome::new(Verdict::Pass, "ran") })
        }
        let started = std::sync::Mutex::new(Vec::new());
        let waiting = "rs.a.waits";
        let checks = vec![
            Check::new(meta("rs.a.one"), |s| note(s, "rs.a.one")),
            Check::new(meta("rs.a.two"), |s| note(s, "rs.a.two")),
            Check::new(meta(waiting), move |s| note(s, waiting)),
        ];
        let options = RunOptions {
            concurrency: 1,
            started_first: &["rs.a.waits"],
            ..RunOptions::default()
        };
        let mut seen = Vec::new();
        run(&checks, &Selection::default(), &started, options, |m, _| {
            seen.push(m.id)
        })
        .await;
        assert_eq!(*started.lock().unwrap(), [waiting, "rs.a.one", "rs.a.two"]);
        assert_eq!(seen, ["rs.a.one", "rs.a.two", waiting]);
    }

    #[tokio::test]
    async fn selection_filters() {
        let checks = vec![
            Check {
                meta: meta("rs.a.one"),
                run: Box::new(slow),
            },
            Check {
                meta: meta("rs.b.two"),
                run: Box::new(slow),
            },
        ];
        let sel = Selection {
            include: vec![crate::engine::select::Glob::new("rs.b.*")],
            skip: vec![],
        };
        let results = run(&checks, &sel, &1u64, RunOptions::default(), |_, _| {}).await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].0.id, "rs.b.two");
    }
}
