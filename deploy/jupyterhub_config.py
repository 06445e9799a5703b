"""JupyterHub for the course (#18, docs/deploy.md): instructors, students, nbgrader's exchange, formgrader.

``ethicskit course hub --demo`` starts ``jupyterhub -f deploy/jupyterhub_config.py`` with the ETHICSKIT_HUB_*
variables below set (and writes the folders they name); a real server sets the same variables (or edits
this file) and changes the two lines marked "demo" (docs/deploy.md shows both).

    ETHICSKIT_COURSE           the course root (nbgrader_config.py, solutions/); formgrader runs there
    ETHICSKIT_HUB_STATE        the hub's own folder: its sqlite, cookie secret, users' homes, configs
    ETHICSKIT_EXCHANGE         nbgrader's exchange, a folder every user can write (mode 1777)
    ETHICSKIT_HUB_INSTRUCTORS  comma-separated user names (formgrader, the course's tools)
    ETHICSKIT_HUB_STUDENTS     comma-separated user names (Assignment List only)
    ETHICSKIT_HUB_PORT         the public port on 127.0.0.1 (default 8000)
    ETHICSKIT_HUB_PORTS        three free ports: the hub's API, the proxy's API, the formgrader service
    ETHICSKIT_HUB_GRADER_USER  (real hub, as root) the system user formgrader runs as
    ETHICSKIT_HUB_DEMO         "1": DummyAuthenticator (any password, or ETHICSKIT_HUB_PASSWORD) and every
                               user's server run as the hub's own user (SimpleLocalProcessSpawner)
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub injects get_config

COURSE = Path(os.environ["ETHICSKIT_COURSE"]).resolve()
STATE = Path(os.environ["ETHICSKIT_HUB_STATE"]).resolve()
EXCHANGE = os.environ["ETHICSKIT_EXCHANGE"]
COURSE_ID = os.environ.get("ETHICSKIT_COURSE_ID", "ethics-course-kit")  # = nbgrader_config.py's course_id
INSTRUCTORS = [u for u in os.environ.get("ETHICSKIT_HUB_INSTRUCTORS", "instructor").split(",") if u]
STUDENTS = [u for u in os.environ.get("ETHICSKIT_HUB_STUDENTS", "student1,student2").split(",") if u]
PORT = int(os.environ.get("ETHICSKIT_HUB_PORT", "8000"))
HUB_PORT, PROXY_API_PORT, SERVICE_PORT = (int(p) for p in os.environ["ETHICSKIT_HUB_PORTS"].split(","))
DEMO = os.environ.get("ETHICSKIT_HUB_DEMO") == "1"
BIN = Path(sys.executable).parent  # the course environment: jupyterhub-singleuser, nbgrader, ethicskit
ROOT_FLAGS = ["--allow-root"] if os.geteuid() == 0 else []  # containers and CI machines often are root

# --- the hub and its proxy (configurable-http-proxy from npm), loopback only; HTTPS is the site's proxy's job
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = HUB_PORT
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_API_PORT}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# --- who may log in
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)
c.Authenticator.admin_users = set()  # instructors need formgrader, not other users' servers
if DEMO:  # demo: replace with your site's authenticator (PAM for system users, OAuthenticator, LTI, ...)
    c.JupyterHub.authenticator_class = "dummy"
    if os.environ.get("ETHICSKIT_HUB_PASSWORD"):
        c.DummyAuthenticator.password = os.environ["ETHICSKIT_HUB_PASSWORD"]

# --- users' servers: JupyterLab in the course environment
if DEMO:  # demo: every server runs as the hub's user; a real hub uses LocalProcessSpawner (system users)
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.args = ROOT_FLAGS
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def _pre_spawn(spawner):
    """Students get the student configuration (no formgrader, no Create assignment); all get the exchange."""
    role = "instructor" if spawner.user.name in INSTRUCTORS else "student"
    spawner.environment["JUPYTER_CONFIG_PATH"] = str(STATE / "config" / role)
    spawner.environment["ETHICSKIT_EXCHANGE"] = EXCHANGE
    spawner.environment["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        spawner.environment[name] = "1"
    if DEMO:
        Path(spawner.home_dir_template.format(username=spawner.user.name)).mkdir(parents=True, exist_ok=True)
        spawner.environment["USER"] = spawner.environment["LOGNAME"] = spawner.user.name


c.Spawner.pre_spawn_hook = _pre_spawn

# --- formgrader: the course's hub service, at /services/<course id>/, for the instructors only
c.JupyterHub.services = [
    {
        "name": COURSE_ID,
        "url": f"http://127.0.0.1:{SERVICE_PORT}",
        "command": [str(BIN / "jupyterhub-singleuser"), *ROOT_FLAGS, f"--ServerApp.root_dir={COURSE}"],
        "cwd": str(COURSE),
        "environment": {
            "JUPYTERHUB_DEFAULT_URL": "/lab",
            "JUPYTER_CONFIG_PATH": str(STATE / "config" / "instructor"),
            "ETHICSKIT_EXCHANGE": EXCHANGE,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **(
                {"ETHICSKIT_DB_URL": os.environ["ETHICSKIT_DB_URL"]}
                if os.environ.get("ETHICSKIT_DB_URL")
                else {}
            ),
        },
        "oauth_no_confirm": True,
        # a real hub running as root runs formgrader as the course's grader account (a system user who owns
        # the course folder); the demo runs it as the hub's own user
        **(
            {"user": os.environ["ETHICSKIT_HUB_GRADER_USER"]}
            if os.environ.get("ETHICSKIT_HUB_GRADER_USER")
            else {}
        ),
    }
]
c.JupyterHub.load_groups = {
    "instructors": {"users": INSTRUCTORS},
    f"formgrade-{COURSE_ID}": {"users": INSTRUCTORS},  # nbgrader's naming: who grades the course
    f"nbgrader-{COURSE_ID}": {"users": STUDENTS},  # who takes it
}
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{COURSE_ID}",
        "groups": [f"formgrade-{COURSE_ID}"],
        "scopes": [
            f"access:services!service={COURSE_ID}",
            "list:services",
            f"read:services!service={COURSE_ID}",
        ],
    },
    {"name": f"nbgrader-{COURSE_ID}", "groups": [f"nbgrader-{COURSE_ID}"], "scopes": ["self"]},
]
