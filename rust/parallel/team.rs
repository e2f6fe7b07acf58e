//! The worker team that runs every parallel kernel.
//!
//! Why not rayon's pool: a fork/join from the Python thread into a sleeping
//! rayon pool injects the job, wakes a worker, lets the workers split and
//! steal, and then wakes the caller, which only waited. On this 2-vCPU
//! machine that round trip measured 15-40 us, two or three thread wake-ups
//! per op, which small GEMMs and convolution layers of a training step pay
//! many times over. Here the calling thread takes part: it publishes the job,
//! runs tasks itself, and the `threads - 1` workers, spinning for a short
//! while after their last job (`RUSTDL_SPIN_US`, like OpenMP's spin-wait),
//! pick up the rest without a wake-up. A job too small to wait for a sleeping
//! worker simply finishes on the caller.
//!
//! Tasks are claimed one at a time from a shared counter, so uneven tasks
//! balance themselves. A job started from inside a task runs serially on
//! that thread; one started while another thread's job runs waits for it.

use parking_lot::{Condvar, Mutex};
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

thread_local! {
    /// Whether this thread is running a task of some team's job.
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// The job being run: the task function (its lifetime erased; see `run`)
/// and how many tasks there are.
#[derive(Clone, Copy)]
struct Job {
    task: *const (dyn Fn(usize) + Sync + 'static),
    tasks: usize,
}
// SAFETY: the function is `Sync`, and `run` keeps it alive while any worker
// can still call it.
unsafe impl Send for Job {}

/// What workers attach to, under one lock: the current job and its number.
struct Slot {
    job: Option<Job>,
    epoch: usize,
}

pub struct Team {
    workers: usize,
    slot: Mutex<Slot>,
    /// `slot.epoch`, readable without the lock by spinning workers.
    epoch: AtomicUsize,
    /// The next unclaimed task of the current job.
    next: AtomicUsize,
    /// Workers that took the current job and have not finished with it.
    attached: AtomicUsize,
    /// Set when a task panicked; the caller re-raises after the join.
    panicked: AtomicBool,
    /// The first worker panic's payload, re-raised as is (so a failed
    /// allocation or a meta-tensor access keeps its own error).
    panic_payload: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// One job at a time; a second caller waits for the first.
    busy: Mutex<()>,
    sleeping: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
    spin: Duration,
}

/// How long an idle worker spins before it sleeps: 2 ms by default (a
/// training step's ops come microseconds apart; 0 made a 2-thread MLP step
/// 1.6x slower), none when there are more threads than CPUs (spinning would
/// take the CPU from the thread with work).
fn spin_time(threads: usize) -> Duration {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let us = std::env::var("RUSTDL_SPIN_US")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(if threads > cpus { 0 } else { 2000 });
    Duration::from_micros(us)
}

impl Team {
    /// A team of `threads` threads: the caller and `threads - 1` workers.
    pub fn new(threads: usize) -> Arc<Team> {
        let team = Arc::new(Team {
            workers: threads.saturating_sub(1),
            slot: Mutex::new(Slot {
                job: None,
                epoch: 0,
            }),
            epoch: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            attached: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            panic_payload: Mutex::new(None),
            busy: Mutex::new(()),
            sleeping: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
            spin: spin_time(threads),
        });
        for i in 0..team.workers {
            let t = Arc::clone(&team);
            let spawned = std::thread::Builder::new()
                .name(format!("rustdl-{}", i + 1))
                .spawn(move || t.work());
            // Without a worker the caller runs every task itself.
            drop(spawned);
        }
        team
    }

    /// Run `task(i)` for every `i < tasks`, on this thread and the workers;
    /// returns when all have run. A panic in a task is re-raised here.
    pub fn run(&self, tasks: usize, task: &(dyn Fn(usize) + Sync)) {
        let serial = || (0..tasks).for_each(task);
        if self.workers == 0 || tasks <= 1 || IN_TASK.with(Cell::get) {
            return serial();
        }
        // Another thread's job (say a DataLoader thread's) finishes first:
        // jobs are short, and running this one serially instead would leave
        // it on one core for its whole length.
        let _busy = self.busy.lock();
        // SAFETY: the erased lifetime never outlives this call: the job is
        // withdrawn below, and we wait until no worker holds it.
        let task: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(task) };
        {
            let mut slot = self.slot.lock();
            slot.epoch = slot.epoch.wrapping_add(1);
            slot.job = Some(Job { task, tasks });
            self.next.store(0, Ordering::Relaxed);
            self.epoch.store(slot.epoch, Ordering::SeqCst);
        }
        if self.sleeping.load(Ordering::SeqCst) > 0 {
            let _g = self.sleep_lock.lock();
            self.wake.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `task` is the live reference passed in.
            self.claim_tasks(unsafe { &*task }, tasks)
        }));
        IN_TASK.with(|f| f.set(false));
        self.slot.lock().job = None;
        let mut spins = 0u32;
        while self.attached.load(Ordering::Acquire) != 0 {
            spins += 1;
            if spins < 1 << 12 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let worker_panicked = self.panicked.swap(false, Ordering::Relaxed);
        let worker_payload = self.panic_payload.lock().take();
        if let Err(payload) = mine {
            resume_unwind(payload);
        }
        if worker_panicked {
            if let Some(payload) = worker_payload {
                resume_unwind(payload);
            }
            panic!("a parallel task panicked on a worker thread");
        }
    }

    /// Claim and run tasks until none are left.
    fn claim_tasks(&self, task: &(dyn Fn(usize) + Sync), tasks: usize) {
        IN_TASK.with(|f| f.set(true));
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= tasks {
                break;
            }
            task(i);
        }
        IN_TASK.with(|f| f.set(false));
    }

    /// A worker's life: wait for a job, take part, repeat.
    fn work(&self) {
        let mut seen = self.epoch.load(Ordering::SeqCst);
        loop {
            if !self.wait_for_job(seen) {
                return;
            }
            let job = {
                let slot = self.slot.lock();
                seen = slot.epoch;
                match slot.job {
                    Some(job) => {
                        self.attached.fetch_add(1, Ordering::Relaxed);
                        job
                    }
                    None => continue,
                }
            };
            // SAFETY: the caller keeps the function alive until `attached`
            // drops back to zero.
            let ran = catch_unwind(AssertUnwindSafe(|| {
                self.claim_tasks(unsafe { &*job.task }, job.tasks)
            }));
            if let Err(payload) = ran {
                IN_TASK.with(|f| f.set(false));
                self.panic_payload.lock().get_or_insert(payload);
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.attached.fetch_sub(1, Ordering::Release);
        }
    }

    /// Spin, then sleep, until the epoch moves past `seen`. False on shutdown.
    fn wait_for_job(&self, seen: usize) -> bool {
        let start = Instant::now();
        let mut spins = 0u32;
        while self.epoch.load(Ordering::Acquire) == seen {
            if self.shutdown.load(Ordering::Relaxed) {
                return false;
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(256) && start.elapsed() >= self.spin {
                let mut g = self.sleep_lock.lock();
                self.sleeping.fetch_add(1, Ordering::SeqCst);
                while self.epoch.load(Ordering::SeqCst) == seen
                    && !self.shutdown.load(Ordering::SeqCst)
                {
                    self.wake.wait(&mut g);
                }
                self.sleeping.fetch_sub(1, Ordering::SeqCst);
            }
        }
        !self.shutdown.load(Ordering::Relaxed)
    }

    /// Let the workers exit (the team is being replaced).
    pub fn stop(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        let _g = self.sleep_lock.lock();
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// Every task runs exactly once, whatever the team size and task count.
    #[test]
    fn runs_every_task_once() {
        for threads in [1, 2, 3, 5] {
            let team = Team::new(threads);
            for tasks in [0, 1, 2, 3, 7, 64, 1000] {
                for _ in 0..20 {
                    let hits: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
                    team.run(tasks, &|i| {
                        hits[i].fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                }
            }
            team.stop();
        }
    }

    /// A job started inside a task runs serially on that thread; jobs from
    /// several threads at once all complete.
    #[test]
    fn nested_and_concurrent_jobs_complete() {
        let team = Team::new(2);
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..50 {
                        team.run(8, &|_| {
                            team.run(4, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 3 * 50 * 8 * 4);
        team.stop();
    }

    /// A panicking task reaches the caller, and the team still works after.
    #[test]
    fn panic_in_a_task_reaches_the_caller() {
        let team = Team::new(2);
        for _ in 0..10 {
            let r = catch_unwind(AssertUnwindSafe(|| {
                team.run(16, &|i| {
                    if i % 5 == 3 {
                        panic!("task {i}");
                    }
                })
            }));
            assert!(r.is_err());
            let n = AtomicUsize::new(0);
            team.run(16, &|_| {
                n.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(n.load(Ordering::Relaxed), 16);
        }
        team.stop();
    }

    /// Workers that went to sleep wake for the next job.
    #[test]
    fn sleeping_workers_wake() {
        let team = Team::new(2);
        std::thread::sleep(team.spin + Duration::from_millis(20));
        let workers_ran = AtomicUsize::new(0);
        let caller = std::thread::current().id();
        for _ in 0..200 {
            team.run(2, &|_| {
                if std::thread::current().id() != caller {
                    workers_ran.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_micros(200));
            });
        }
        assert!(workers_ran.load(Ordering::Relaxed) > 0);
        team.stop();
    }
}
