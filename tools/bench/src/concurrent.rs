//! Bounded concurrency: `n` jobs, at most `concurrency` at a time on the runtime's threads.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::task::{JoinError, JoinSet};

/// Runs `job(0..n)` with `concurrency` workers taking the next index as they finish one;
/// the results come back in index order.
pub async fn for_each_concurrent<T, F, Fut>(
    n: usize,
    concurrency: usize,
    job: F,
) -> Result<Vec<T>, JoinError>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let (job, next) = (job.clone(), next.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return done;
                }
                done.push((i, job(i).await));
            }
        });
    }
    let mut results = Vec::with_capacity(n);
    while let Some(worker) = workers.join_next().await {
        results.extend(worker?);
    }
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn runs_every_job_once_at_most_concurrency_at_a_time() {
        // GIVEN a job that records how many jobs run at once
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (r, p) = (running.clone(), peak.clone());
        // WHEN 20 jobs run with concurrency 4
        let out = for_each_concurrent(20, 4, move |i| {
            let (r, p) = (r.clone(), p.clone());
            async move {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                r.fetch_sub(1, Ordering::SeqCst);
                i * 10
            }
        })
        .await
        .unwrap();
        // THEN each ran once, results are in order, and never more than 4 ran together
        assert_eq!(out, (0..20).map(|i| i * 10).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 4);
        assert!(peak.load(Ordering::SeqCst) >= 2);
    }

    #[tokio::test]
    async fn no_jobs_is_fine() {
        let out = for_each_concurrent(0, 4, |i| async move { i })
            .await
            .unwrap();
        assert!(out.is_empty());
    }
}
