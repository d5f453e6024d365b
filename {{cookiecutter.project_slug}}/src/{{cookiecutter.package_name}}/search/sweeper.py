"""The project's Optuna sweeper (hydra/sweeper=optuna): one study, each trial a Hydra job.

Hydra hands the sweeper the command line; the sweeper reads the search space from
`hydra.sweeper.params` and the command line in Hydra's override grammar (`search_space`),
opens the study (SQLite under logs/sweeps/<study>/ in the searches of conf/hparams_search/;
the same command again continues it), and runs `n_trials` trials. Each trial is one job
launched through the configured launcher (basic: in this process; joblib: parallel processes;
or SLURM jobs), told its trial number with `++trial=<number>` so that its pruning callback
(pruning.py) reports to it. The value the job returns completes the trial; a job the pruner
stopped is PRUNED; a job that failed, or returned no finite number, is FAIL, and the sweep
goes on unless a batch fails beyond `max_failure_rate`.

Lost trials: a database storage gets Optuna's heartbeat. While a trial runs, the sweep process
records its heartbeat every `heartbeat_interval` seconds; a RUNNING trial without one for
`grace_period` seconds lost its process (kill -9, the OOM killer, a preempted node), and the
next sweep on the study (before each trial it starts) marks it FAIL and queues it again with
the same parameters (RetryHeartbeatStaleTrialCallback), up to `max_retry` times. A trial whose
joblib worker died is queued again the same way, at once. A retry resumes from the last.ckpt
the lost trial left, if any (`ckpt_path=`). Several sweep processes, on several machines, may
share one study in a database server: each asks the study for its trials, so none runs a trial
twice.

Why `study.optimize` rather than ask and tell: the heartbeat works inside `study.optimize`
only. `optimize` wants an objective that returns each trial's value, while Hydra's launchers
run jobs in batches and parallel only within a batch; so `n_jobs` threads each run `optimize`
on the study, their objectives hand their trials to `Batches`, and the main thread launches
them as one batch once every thread waits. The launcher is always called from the main thread:
the basic launcher runs the job right there, where Lightning can install its signal handlers.
"""

import functools
import logging
import math
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import execution_whitelist, instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ..errors import ConfigError, ProjectError
from ..multirun import job_line, job_records

log = logging.getLogger(__name__)
# Optuna calls heartbeats, their retries, metric names and its matplotlib plots experimental;
# they have stayed as they are for years, and the warning asks nothing of a sweep.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

MINIMIZE, MAXIMIZE = StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE
DIRECTIONS = {"min": MINIMIZE, "max": MAXIMIZE, "minimize": MINIMIZE, "maximize": MAXIMIZE}
SAMPLERS = "optuna.samplers.*"  # what hydra.sweeper.sampler may build
Batch = list[tuple[list[str], Future[JobReturn]]]  # each job's overrides, and its answer
Space = dict[str, BaseDistribution]  # each parameter searched, and its values


class JobFailed(Exception):
    """A trial's job failed or returned no finite number: the trial is FAIL, the sweep goes on."""


class JobLost(JobFailed):
    """A trial's job died with its worker process: the trial is FAIL and runs again."""


class SweepStopped(ProjectError):
    """The sweep stopped before its trials were done: too many failures, or interrupted."""


def one_line(record: logging.LogRecord) -> bool:
    """A logging filter. Optuna logs a failed trial with the traceback of its objective, which
    for a failed job is the sweeper's own: the job's error line says it all (its traceback is in
    its own log), and so does the line of an error the user can fix."""
    if record.exc_info and isinstance(record.exc_info[1], JobFailed | ProjectError):
        record.exc_info = None
    return True


def redacted(url: str) -> str:
    """A database URL as logs and summaries show it: its password as ***."""
    return make_url(url).render_as_string(hide_password=True)


def distribution(override: Override) -> BaseDistribution:
    """A sweep in Hydra's override grammar as an Optuna distribution.

    `interval(a, b)`: a float in [a, b] (an integer when both are), on a log scale with
    `tag(log, interval(a, b))`;
    `range(a, b[, step])` of integers: an integer, b left out as in Python; any other list
    (`choice(...)`, `a,b,c`, a range of floats or a shuffled one): one of its values.
    """
    sweep = override.value()
    if isinstance(sweep, IntervalSweep):
        assert sweep.start is not None and sweep.end is not None  # the grammar needs both
        log = "log" in sweep.tags
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):  # as Hydra's plugin
            return IntDistribution(sweep.start, sweep.end, log=log)
        return FloatDistribution(float(sweep.start), float(sweep.end), log=log)
    values: list[Any] = list(override.sweep_iterator(transformer=Transformer.encode))
    if not values:
        raise ConfigError(f"{override.input_line} has no value to search")
    ints = all(isinstance(value, int) for value in values)
    if ints and isinstance(sweep, RangeSweep) and isinstance(sweep.step, int) and not sweep.shuffle:
        return IntDistribution(min(values), max(values), step=abs(sweep.step))
    return CategoricalDistribution(values)


def search_space(overrides: Sequence[str]) -> tuple[Space, list[str]]:
    """The parameters to search with their distributions, and the overrides every trial gets
    as they are (the command line's own: `trainer=cpu`, `~callbacks.early_stopping`).

    A later override of a key replaces an earlier one, so a value on the command line fixes a
    parameter of hydra.sweeper.params, and a list there searches its values instead.
    """
    last: dict[str, Override] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        last.pop(key := override.get_key_element(), None)  # the later one goes to the end
        last[key] = override
    space = {k: distribution(o) for k, o in last.items() if o.is_sweep_override()}
    return space, [str(o.input_line) for o in last.values() if not o.is_sweep_override()]


def grid(space: Space) -> dict[str, list[Any]]:
    """Every value of each parameter: the grid sampler's points are their combinations."""
    points: dict[str, list[Any]] = {}
    for name, values in space.items():
        if isinstance(values, CategoricalDistribution):
            points[name] = list(values.choices)
        elif isinstance(values, IntDistribution):
            points[name] = list(range(values.low, values.high + 1, values.step))
        else:
            raise ConfigError(
                f"{name}: the grid sampler needs a list of values, choice(...) or range(...),"
                " not an interval"
            )
    return points


def suggest(trial: optuna.Trial, name: str, values: BaseDistribution) -> Any:
    """The trial's value of the parameter `name`, drawn by the study's sampler."""
    if isinstance(values, FloatDistribution):
        return trial.suggest_float(name, values.low, values.high, log=values.log)
    if isinstance(values, IntDistribution):
        return trial.suggest_int(name, values.low, values.high, step=values.step)
    assert isinstance(values, CategoricalDistribution)
    return trial.suggest_categorical(name, values.choices)


def outcome(job: JobReturn) -> float | JobFailed | optuna.TrialPruned:
    """The finite number a trial's job returned; else optuna.TrialPruned for a job its pruner
    stopped, JobFailed for one that failed (with the job's error line)."""
    try:
        value = float(job.return_value)  # raises the job's own error when it failed
    except optuna.TrialPruned as pruned:
        return pruned
    except Exception as error:
        return JobFailed(job_line(error))  # the traceback is in the job's log
    return value if math.isfinite(value) else JobFailed(f"the job returned {value}")


class Batches:
    """Where the trial threads hand in their jobs and the main thread launches them together.

    Each of `workers` threads runs `study.optimize` one trial at a time; its objective hands
    the trial's overrides to `run` and waits for the job. Once every thread still running
    waits, `next` gives the main thread that batch to launch, which then hands each thread its
    job's result.
    """

    def __init__(self, workers: int) -> None:
        self.changed = threading.Condition()
        self.running = workers  # the threads whose `optimize` has not returned
        self.waiting: Batch = []
        self.stopping = False  # set before the answers: each thread stops after this trial
        self.closed = False  # the sweep is over: a trial handed in now is not run

    def run(self, overrides: list[str]) -> JobReturn:
        """In a trial thread: the job of these overrides, once its batch has run."""
        done: Future[JobReturn] = Future()
        with self.changed:
            if self.closed:
                raise SweepStopped("the sweep stopped before this trial could start")
            self.waiting.append((overrides, done))
            self.changed.notify_all()
        return done.result()

    def leave(self) -> None:
        """In a trial thread whose `optimize` returned or raised."""
        with self.changed:
            self.running -= 1
            self.changed.notify_all()

    def next(self) -> Batch:
        """In the main thread: the next batch, once every running thread waits; [] at the end."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.waiting) >= self.running)
            batch, self.waiting = self.waiting, []
        return batch

    def close(self, why: BaseException, batch: Batch) -> None:
        """Ends the sweep on an error in the main thread: the trials of `batch` and those
        waiting fail with it, and the threads stop."""
        with self.changed:
            self.closed = self.stopping = True
            batch, self.waiting = [*batch, *self.waiting], []
        for _, done in batch:
            if not done.done():
                done.set_exception(SweepStopped(f"the sweep stopped: {why!r}"))


@dataclass(eq=False)  # Hydra builds it with hydra.sweeper's settings as keyword arguments
class OptunaSweeper(Sweeper):
    """Hydra's Sweeper interface over an Optuna study; its settings are hydra.sweeper's
    (conf/hydra/sweeper/optuna.yaml); `sampler` is a config, built from optuna.samplers."""

    sampler: DictConfig
    direction: str  # min or max (minimize, maximize)
    n_trials: int
    n_jobs: int = 1
    study_name: str | None = None
    storage: str | None = None
    max_failure_rate: float = 0.0
    params: DictConfig | None = None
    heartbeat_interval: int = 10
    grace_period: int = 30
    max_retry: int = 3
    config: DictConfig = field(init=False, repr=False)  # the rest is set by Hydra's setup()
    launcher: Launcher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction={self.direction}: use min or max")
        for key, value, low in (
            ("n_trials", self.n_trials, 1),
            ("n_jobs", self.n_jobs, 1),
            ("heartbeat_interval", self.heartbeat_interval, 1),
            ("grace_period", self.grace_period, self.heartbeat_interval + 1),
            ("max_retry", self.max_retry, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"hydra.sweeper.{key}={value}: use a whole number >= {low}")
        if not 0.0 <= self.max_failure_rate <= 1.0:
            raise ConfigError(
                f"hydra.sweeper.max_failure_rate={self.max_failure_rate}:"
                " use a share from 0.0 to 1.0"
            )
        self.study_direction = DIRECTIONS[self.direction]
        self.retry = RetryHeartbeatStaleTrialCallback(self.max_retry)  # queues a lost trial again
        self.lost: set[int] = set()  # numbers of the trials whose worker died in this sweep
        self.job_idx = 0  # the number of the next job: its folder's name starts with it

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        params = [f"{key!s}={value}" for key, value in (self.params or {}).items()]
        space, fixed = search_space([*params, *arguments])
        sampler, n_trials = self.build_sampler(space)
        study = optuna.create_study(
            storage=self.open_storage(),
            sampler=sampler,
            study_name=self.study_name,
            direction=self.study_direction,
            load_if_exists=True,
        )
        if metric := OmegaConf.select(self.config, "monitor.metric"):  # the dashboard's label
            study.set_metric_names([metric])
        where = redacted(self.storage) if self.storage else "memory"
        log.info("Study %s in %s, %d trials before", study.study_name, where, len(study.trials))
        log.info(
            "%d trials, %d at a time, sampler %s", n_trials, self.n_jobs, type(sampler).__name__
        )
        self.fail_unstarted(study)
        for handler in logging.getLogger("optuna").handlers:  # its own, unless configured
            handler.addFilter(one_line)
        self._run(study, n_trials, space, fixed)
        self._save_best(study)

    def open_storage(self) -> optuna.storages.BaseStorage:
        """The study's database, with heartbeats and retries of lost trials; or memory."""
        if not self.storage:
            return optuna.storages.InMemoryStorage()
        password = make_url(self.storage).password
        written = OmegaConf.to_container(self.config.hydra.sweeper, resolve=False)
        assert isinstance(written, dict)
        if password and password in str(written["storage"]):  # not from ${oc.env:...}
            raise ConfigError(
                "hydra.sweeper.storage holds a password, which the saved configs would keep;"
                " give it from the environment: ...://user:${oc.env:OPTUNA_DB_PASSWORD}@host/db"
            )
        # SQLite creates the study's file, not its folder; the jobs' folders come later.
        Path(self.config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)
        storage = functools.partial(
            optuna.storages.RDBStorage,
            self.storage,
            heartbeat_interval=self.heartbeat_interval,
            grace_period=self.grace_period,
            heartbeat_stale_trial_callback=self.retry,
        )
        # Sweeps that start together on a new database race to make Optuna's tables, one
        # statement after another: each try finds more of them made (a lasting error is raised).
        for pause in (0.2, 0.5, 1.0):
            try:
                return storage()
            except DBAPIError:
                time.sleep(pause)
        return storage()

    def fail_unstarted(self, study: optuna.Study) -> None:
        """Fails and retries each trial whose sweep died after asking for it and before its
        first heartbeat, which the heartbeat never finds: RUNNING, with no parameter yet (a
        sweep sets them at once), since more than grace_period seconds."""
        since = datetime.now() - timedelta(seconds=self.grace_period)  # Optuna's local times
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.params or not trial.datetime_start or trial.datetime_start > since:
                continue
            try:
                study.tell(trial.number, state=TrialState.FAIL)
            except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
                continue  # another sweep on the study failed it first
            log.warning("Trial %d was lost before it started: FAIL", trial.number)
            self.retry(study, study.trials[trial.number])

    def resume_from(self, trial: optuna.Trial) -> list[str]:
        """`ckpt_path=<last.ckpt>` for a retry whose lost trial left one in its folder (a
        retry of a retry continued checkpointing there too), else nothing."""
        frozen = trial.study.get_trials(deepcopy=False)[trial.number]  # listed by number
        lost = RetryHeartbeatStaleTrialCallback.retry_history(frozen)  # the first first
        sweep_dir = Path(self.config.hydra.sweep.dir)
        folders = {o: r["folder"] for r in job_records(sweep_dir) for o in r["overrides"]}
        for number in reversed(lost):
            folder = folders.get(f"++trial={number}")
            if folder and (last := sweep_dir / folder / "checkpoints" / "last.ckpt").is_file():
                log.info("Trial %d resumes lost trial %d from %s", trial.number, number, last)
                return [f"ckpt_path={last.resolve()}"]
        return []

    def build_sampler(self, space: Space) -> tuple[optuna.samplers.BaseSampler, int]:
        """hydra.sweeper.sampler, and how many trials to run with it: n_trials, or fewer when
        the grid sampler has fewer points."""
        with execution_whitelist(SAMPLERS):
            sampler = instantiate(self.sampler)
        if not isinstance(sampler, functools.partial):
            return sampler, self.n_trials
        points = grid(space)  # the grid sampler, given the search space as its grid
        size = math.prod(len(values) for values in points.values())
        return sampler(search_space=points), min(self.n_trials, size)

    def _run(self, study: optuna.Study, n_trials: int, space: Space, fixed: list[str]) -> None:
        """`n_trials` trials, in batches of up to n_jobs: see the module's docstring."""
        workers = min(self.n_jobs, n_trials)
        batches = Batches(workers)
        # One thread at a time fails lost trials and asks for its next one, from the end of its
        # trial to the start of the next objective: with SQLite two threads could both take the
        # same waiting trial (a retry), or both queue a retry of the same lost trial.
        asking, holds = threading.Lock(), threading.local()

        def objective(trial: optuna.Trial) -> float:
            asking.release()
            holds.lock = False
            try:
                sampled = [f"{key}={suggest(trial, key, v)}" for key, v in space.items()]
            except ValueError as error:  # a parameter the study drew from another range
                raise ConfigError(
                    f"{error} (study {study.study_name!r} keeps each parameter's kind and"
                    " choices; a new hydra.sweeper.study_name starts a new study)"
                ) from None
            resume = self.resume_from(trial)
            try:
                job = batches.run([*fixed, *sampled, f"++trial={trial.number}", *resume])
            except JobLost:
                self.lost.add(trial.number)
                raise
            if batches.stopping:
                trial.study.stop()  # after this trial
            if isinstance(value := outcome(job), Exception):
                raise value
            return value

        def retry_lost(study: optuna.Study, trial: FrozenTrial) -> None:
            asking.acquire()  # before the next trial (released when `optimize` returns)
            holds.lock = True
            if trial.number in self.lost:  # its worker died: the heartbeat's retry, now
                self.retry(study, trial)

        def optimize(trials: int) -> None:
            holds.lock = asking.acquire()
            try:
                study.optimize(objective, trials, catch=(JobFailed,), callbacks=[retry_lost])
            finally:
                if holds.lock:
                    asking.release()
                batches.leave()

        shares = [n_trials // workers + (i < n_trials % workers) for i in range(workers)]
        pool = ThreadPoolExecutor(workers)
        threads = [pool.submit(optimize, share) for share in shares]
        batch: Batch = []
        stopped: SweepStopped | None = None
        try:
            while batch := batches.next():
                try:
                    jobs = self.launcher.launch([job for job, _ in batch], self.job_idx)
                except BrokenProcessPool as error:  # a worker died (joblib): retry its trials
                    log.error("A worker died, its batch's trials run again: %s", job_line(error))
                    for _, done in batch:  # their trials are lost
                        done.set_exception(JobLost(f"its worker process died: {job_line(error)}"))
                    continue
                finally:
                    self.job_idx += len(batch)
                failures = [out for job in jobs if isinstance(out := outcome(job), JobFailed)]
                if len(failures) / len(jobs) > self.max_failure_rate:
                    batches.stopping = True
                    stopped = SweepStopped(
                        f"{len(failures)} of {len(jobs)} trials of a batch failed, more than"
                        f" hydra.sweeper.max_failure_rate={self.max_failure_rate} allows; the"
                        f" first: {failures[0]}"
                    )
                    log.error("%s", stopped)
                for (_, done), job in zip(batch, jobs, strict=True):
                    done.set_result(job)
        except BaseException as error:  # the launcher failed, or Ctrl-C
            batches.close(error, batch)
            raise
        finally:
            pool.shutdown()  # waits for the threads
        for thread in threads:
            thread.result()  # raises what ended a thread other than its trials
        if stopped is not None:
            raise stopped

    def _save_best(self, study: optuna.Study) -> None:
        """optimization_results.yaml in the sweep folder, as Hydra's Optuna sweeper writes it."""
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            log.warning("No trial completed")
            return
        best = study.best_trial
        log.info("Best parameters: %s; best value: %s", best.params, best.value)
        results = {"name": "optuna", "best_params": best.params, "best_value": best.value}
        OmegaConf.save(results, Path(self.config.hydra.sweep.dir) / "optimization_results.yaml")
