"""Running a deployment in one process: an engine per camera x skill, cameras and models shared.

- Each camera is read once (``CameraHub``) and its frames go to every skill on it.
- Every model node of every skill takes its session from one ``SessionPool``: a model used by
  three skills is loaded once, its inferences queued fairly per camera (and batched across
  cameras when the model's batch dimension is dynamic).
- Engines are independent: a skill that fails (a model that does not load, no export that can
  run) ends alone; a camera that cannot be opened is retried with backoff, the others run on.
- Each skill writes under ``<output>/<camera>/<skill>/`` (its logs, clips and export outboxes,
  per skill and node), and every frame carries ``camera`` and ``skill`` in its ``other_meta``;
  insight messages name the camera as their ``instance_id`` (KAN: an Instance is a camera's
  skills) and the device as their ``device_id``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core.deployment.document import Camera, Deployment, SkillRef
from designer.core.deployment.hub import CameraHub
from designer.core.engine.events import EngineEvent, RunState
from designer.core.engine.executor import Engine, SkillNotRunnable
from designer.core.engine.runtime import RunContext
from designer.core.engine.sources import open_source
from designer.core.models.shared import SessionPool
from designer.core.skill import (
    ParamError,
    Role,
    Skill,
    SkillFileError,
    find_placeholders,
    get_spec,
    load_skill,
)
from designer.core.skill.fields import placeholders_in
from designer.core.skill.params import _fill

RETRY_BACKOFF_S = (1.0, 30.0)  # a camera that cannot be opened is tried again, waiting longer each time
PAIR_SEPARATOR = " / "


class DeploymentError(Exception):
    """The deployment cannot run; the message names the file, the camera and the skill."""


def slug(text: str, fallback: str = "x") -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or fallback


@dataclass
class LoadedSkill:
    """A skill of the deployment as loaded once: the file (or package), its folder, defaults."""

    ref: str
    skill: Skill
    folder: Path
    defaults: dict[str, str] = field(default_factory=dict)  # a package's parameter values
    package: Any = None  # an OpenedPackage (unpacked to a temporary folder), else None
    is_package: bool = False


def load_skills(
    deployment: Deployment, base_dir: Path, params: Mapping[str, str] | None = None, where: str = "deployment"
) -> dict[str, LoadedSkill]:
    """Every skill the cameras name, each file read (and each package verified) once; when one
    cannot load, the packages unpacked before it are removed again."""
    loaded: dict[str, LoadedSkill] = {}
    try:
        for index, camera in enumerate(deployment.cameras):
            for position, ref in enumerate(camera.skills):
                if ref.skill not in loaded:
                    field_name = f"{where}: cameras[{index}].skills[{position}].skill"
                    loaded[ref.skill] = _load_skill(ref.skill, base_dir, params, field_name)
    except BaseException:
        close_packages(loaded)
        raise
    return loaded


def _load_skill(ref: str, base_dir: Path, params: Mapping[str, str] | None, field_name: str) -> LoadedSkill:
    from designer.core.package import PackageError, is_package, open_package

    path = (base_dir / ref).expanduser()
    try:
        if is_package(path):
            opened = open_package(path, dict(params or {}))
            # Its own parameters only: every --param in them would hide a misspelt one from the run.
            values = {k: v for k, v in opened.values.items() if k in opened.manifest.params}
            return LoadedSkill(ref, opened.skill, opened.folder, values, opened, True)
        return LoadedSkill(ref, load_skill(path), path.resolve().parent)
    except SkillFileError as exc:
        raise DeploymentError(f"{field_name}: {exc.located()}") from None
    except (PackageError, ParamError, OSError) as exc:
        raise DeploymentError(f"{field_name}: {exc}") from None


def close_packages(skills: Mapping[str, LoadedSkill]) -> None:
    """Remove the unpacked packages now, not at exit: the designer checks a deployment on every edit."""
    for loaded in skills.values():
        if loaded.package is not None:
            loaded.package.close()


def fill_camera(camera: Camera, values: Mapping[str, str], where: str) -> Camera:
    """The camera with its ``$param`` placeholders filled; a missing value names camera and field."""
    data = camera.model_dump(exclude={"skills"})
    missing = sorted(
        {name for value in data.values() for name in placeholders_in(value) if name not in values}
    )
    if missing:
        raise DeploymentError(
            f"{where}: camera {camera.name!r}: missing parameter {missing[0]!r}: "
            f"pass --param {missing[0]}=VALUE"
        )
    return camera.model_copy(update=_fill(data, values))


def resolve_camera(camera: Camera, base_dir: Path) -> Camera:
    """A video file named by the deployment is found next to the deployment file."""
    source = camera.source.strip()
    if source.isdigit() or "://" in source or placeholders_in(source):
        return camera
    return camera.model_copy(update={"source": str((base_dir / source).expanduser().resolve())})


def skill_on_camera(skill: Skill, camera: Camera) -> Skill:
    """The skill reading the deployment's camera: its Camera Input's source, credentials and
    looping replaced, its frame rate the camera's when the camera sets one."""
    update = {
        "source": camera.source,
        "username": camera.username,
        "password": camera.password,
        "loop": camera.loop,
    }
    nodes = [
        node.model_copy(update={"params": {**node.params, **update}})
        if (spec := get_spec(node.type)) is not None and spec.role is Role.SOURCE
        else node
        for node in skill.nodes
    ]
    settings = skill.settings
    if camera.fps is not None:
        settings = settings.model_copy(update={"fps": camera.fps})
    return skill.model_copy(update={"nodes": nodes, "settings": settings})


def pair_values(
    skill: Skill, ref: SkillRef, defaults: Mapping[str, str], values: Mapping[str, str]
) -> dict[str, str]:
    """The ``$param`` values of one skill on one camera: the package's defaults, then the
    deployment's ``--param`` values the skill uses, then the camera entry's own (which win)."""
    used = find_placeholders(skill)
    merged = {k: v for k, v in defaults.items() if k in used}
    merged.update({k: v for k, v in values.items() if k in used})
    merged.update(ref.params)
    return merged


def needed_params(deployment: Deployment, skills: Mapping[str, LoadedSkill]) -> list[str]:
    """The ``$param`` names the device must give (``--param`` or ``SKILL_PARAM_<NAME>``): the
    cameras' own, and each skill's that its camera entry and package defaults leave open."""
    names: set[str] = set()
    for camera in deployment.cameras:
        names.update(n for v in camera.model_dump(exclude={"skills"}).values() for n in placeholders_in(v))
        for ref in camera.skills:
            loaded = skills[ref.skill]
            used = find_placeholders(skill_on_camera(loaded.skill, camera))
            names.update(n for n in used if n not in ref.params and n not in loaded.defaults)
    return sorted(names)


def param_env(name: str) -> str:
    """``$param(lobby.password)`` -> ``SKILL_PARAM_LOBBY_PASSWORD``, as skill packages name them."""
    return "SKILL_PARAM_" + (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "X")


@dataclass
class Pair:
    """One skill running on one camera."""

    camera: Camera
    ref: SkillRef
    skill_name: str
    engine: Engine
    output_dir: Path
    restarts: int = 0
    retry_at: float | None = None
    build: Callable[[], Engine] | None = None

    @property
    def key(self) -> str:
        return f"{self.camera.name}{PAIR_SEPARATOR}{self.skill_name}"


@dataclass(frozen=True)
class _EngineOptions:
    """How every engine of a run is built (the same for all pairs, kept together to pass along)."""

    realtime: bool
    max_frames: int | None
    models: Any
    dry_run: bool


class DeploymentRun:
    """A deployment running in this process. ``start()`` returns at once; ``wait``/``stop``.

    ``subscribe(callback)`` gets ``(pair, event)`` for every engine event of every pair.
    """

    def __init__(
        self,
        deployment: Deployment,
        base_dir: Path,
        *,
        params: Mapping[str, str] | None = None,
        realtime: bool = True,
        max_frames: int | None = None,
        output_dir: Path | None = None,
        models: Any = None,
        dry_run: bool = False,
        where: str = "deployment",
        opener: Callable[..., Any] = open_source,
        retry_backoff: tuple[float, float] = RETRY_BACKOFF_S,
        skills: dict[str, LoadedSkill] | None = None,
    ) -> None:
        self.deployment = deployment
        self.where = where
        self.pool = SessionPool()
        self.realtime = realtime
        self.retry_backoff = retry_backoff
        self.output_dir = Path(output_dir) if output_dir is not None else Path.cwd()
        values = dict(params or {})
        self.skills = skills if skills is not None else load_skills(deployment, base_dir, values, where)
        self.hubs: dict[str, CameraHub] = {}
        self.pairs: list[Pair] = []
        self._subscribers: list[Callable[[Pair, EngineEvent], None]] = []
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.started = 0.0
        options = _EngineOptions(realtime, max_frames, models, dry_run)
        used_globally: set[str] = set()
        try:  # a run that cannot be built leaves no unpacked package behind
            for index, raw_camera in enumerate(deployment.cameras):
                used_globally |= self._add_camera(
                    raw_camera, f"{where}: cameras[{index}]", base_dir, values, opener, options
                )
            self._check_params(values, used_globally)
            self._check_unique_pairs()
        except BaseException:
            close_packages(self.skills)
            raise

    def _add_camera(
        self,
        raw_camera: Camera,
        camera_where: str,
        base_dir: Path,
        values: dict[str, str],
        opener: Callable[..., Any],
        options: _EngineOptions,
    ) -> set[str]:
        """One hub for the camera and one pair per skill on it; returns the ``--param`` names the
        camera and its skills use, so that unknown ones can be refused."""
        camera = resolve_camera(fill_camera(raw_camera, values, camera_where), base_dir)
        used = {n for v in raw_camera.model_dump(exclude={"skills"}).values() for n in placeholders_in(v)}
        hub = self._camera_hub(camera, opener)
        self.hubs[camera.name] = hub
        for position, ref in enumerate(camera.skills):
            loaded = self.skills[ref.skill]
            skill = skill_on_camera(loaded.skill, camera)
            pair_where = f"{camera_where}.skills[{position}] ({ref.skill})"
            used.update(k for k in values if k in find_placeholders(skill))
            pair = self._make_pair(camera, hub, ref, loaded, skill, values, options, pair_where)
            self.pairs.append(pair)
            self._watch(pair)
        return used

    def _camera_hub(self, camera: Camera, opener: Callable[..., Any]) -> CameraHub:
        """The camera's single reader; its fps is the camera's, else the fastest its skills ask for
        (15 when it has none), so that no skill gets fewer frames than it wants."""
        return CameraHub(
            camera.name,
            opener,
            expected_taps=len(camera.skills),
            loop=camera.loop,
            fps_limit=max(
                [camera.fps]
                if camera.fps
                else [self.skills[r.skill].skill.settings.fps for r in camera.skills] or [15]
            ),
            realtime=self.realtime,
            username=camera.username,
            password=camera.password,
        )

    def _make_pair(
        self,
        camera: Camera,
        hub: CameraHub,
        ref: SkillRef,
        loaded: LoadedSkill,
        skill: Skill,
        values: dict[str, str],
        options: _EngineOptions,
        pair_where: str,
    ) -> Pair:
        """The engine of one skill on one camera, built now so that parameter errors stop the
        deployment before anything runs; ``build`` is kept to restart it after a camera failure."""
        merged = pair_values(skill, ref, loaded.defaults, values)
        name = skill.settings.name or Path(ref.skill).name
        out = self.output_dir / slug(camera.name, "camera") / slug(name, "skill")
        context = RunContext(
            skill_dir=loaded.folder,
            output_dir=out,
            acceleration=self.deployment.device.acceleration,
            skill_id=name,
            instance_id=camera.name,
            device_id=self.deployment.device.name,
            models=None if loaded.is_package else options.models,
            dry_run=options.dry_run,
            sessions=self.pool,
            lane=camera.name,
            frame_tags={"camera": camera.name, "skill": name},
        )

        def build() -> Engine:
            context.stopping = threading.Event()
            return Engine(
                skill,
                params=merged,
                realtime=options.realtime,
                max_frames=options.max_frames,
                context=context,
                open_video=hub.tap,
            )

        try:
            engine = build()
        except ParamError as exc:
            raise DeploymentError(f"{pair_where}: {exc}") from None
        except SkillNotRunnable as exc:
            raise DeploymentError(f"{pair_where}: {exc}") from None
        return Pair(camera, ref, name, engine, out, build=build)

    def _check_params(self, values: dict[str, str], used: set[str]) -> None:
        """Refuse a ``--param`` nothing uses: it is most likely a misspelt name."""
        unused = sorted(set(values) - used - {k for r in self.skills.values() for k in r.defaults})
        if unused:
            raise DeploymentError(
                f"{self.where}: unknown parameter {unused[0]!r}: no camera or skill uses it"
            )

    def _check_unique_pairs(self) -> None:
        """Refuse two skills of one name on one camera: their outputs and events would collide."""
        keys = [p.key for p in self.pairs]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise DeploymentError(
                f"{self.where}: two skills on one camera have the same name ({dup}): rename one"
            )

    # --- public API ---------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Pair, EngineEvent], None]) -> None:
        self._subscribers.append(callback)

    def start(self) -> DeploymentRun:
        self.started = time.monotonic()
        for pair in self.pairs:
            pair.output_dir.mkdir(parents=True, exist_ok=True)
            pair.engine.start()
        threading.Thread(target=self._supervise, name="engine-deployment", daemon=True).start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self.started:  # the supervisor ends first, so no pair is restarted behind the stop
            self._done.wait(min(timeout, 2.0))
        for pair in self.pairs:
            pair.engine.stop(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """True when every pair has ended."""
        if not self._done.wait(timeout):
            return False
        return all(p.engine.wait(timeout) not in (RunState.STARTING, RunState.RUNNING) for p in self.pairs)

    def pair(self, camera: str, skill: str) -> Pair:
        return next(p for p in self.pairs if p.camera.name == camera and p.skill_name == skill)

    # --- internals ----------------------------------------------------------------------

    def _watch(self, pair: Pair) -> None:
        def relay(event: EngineEvent) -> None:
            self._emit(pair, event)

        pair.engine.subscribe(relay)

    def _emit(self, pair: Pair, event: EngineEvent) -> None:
        for callback in list(self._subscribers):
            callback(pair, event)

    def _supervise(self) -> None:
        """Restart a pair whose camera could not be opened (backoff); end when every pair ended."""
        try:
            while not self._stop.is_set():
                live = False
                for pair in self.pairs:
                    engine = pair.engine
                    if engine.state in (RunState.STARTING, RunState.RUNNING) or not engine.wait(0):
                        live = True
                        continue
                    if engine.state is RunState.FAILED and engine.camera_metrics.failed and self._live(pair):
                        live = True
                        self._retry(pair)
                if not live:
                    return
                self._stop.wait(0.2)
        finally:
            self._done.set()

    def _live(self, pair: Pair) -> bool:
        source = pair.camera.source.strip()
        return source.isdigit() or "://" in source

    def _retry(self, pair: Pair) -> None:
        now = time.monotonic()
        if pair.retry_at is None:
            first, most = self.retry_backoff
            pair.retry_at = now + min(most, first * 2 ** min(pair.restarts, 10))
            return
        if now < pair.retry_at or pair.build is None:
            return
        pair.retry_at = None
        pair.restarts += 1
        pair.engine = pair.build()
        self._watch(pair)
        pair.engine.start()

    def close(self) -> None:
        self.stop()
        self.pool.close()
        close_packages(self.skills)
