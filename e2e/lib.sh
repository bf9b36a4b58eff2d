# Shared by e2e/run.sh and bench/provision_load.sh (sourced, never run): how each embedded
# template is installed and tested on a Debian machine, how its Procfile processes are run,
# and a private Postgres server.
#
# The caller sets: root (the kensa checkout), template (node | sinatra | clojure | rust-axum)
# and works inside the generated project directory.

# Only what the caller passes explicitly reaches the templates: a DATABASE_URL left in the
# developer's shell would turn the embedded run into a Postgres run, unnoticed.
unset DATABASE_URL TEST_DATABASE_URL ASYNC_DELAY_SECONDS PUBLIC_URL HEROKU_IDENTITY_URL
# kensa's own build directory (CI keeps it in the user cache) is not the generated projects':
# they build into their own target/ (rust-axum: a link to the cache below).
unset CARGO_TARGET_DIR

# One cargo target directory for every rust-axum project, kept between runs on the same
# machine (the user cache directory): dependencies compile once.
export KENSA_E2E_CARGO_TARGET=${KENSA_E2E_CARGO_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/kensa/e2e-rust-axum}

say() { printf '\n==> %s\n' "$*"; }

# A port nothing listens on now, below the kernel's ephemeral range (32768 up), where the
# ports that other programs' bind(0) and outgoing connections take come from.
free_port() {
  python3 -c '
import random, socket
for _ in range(1000):
    port = random.randrange(20000, 32768)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    raise SystemExit("no free port between 20000 and 32767")'
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Seconds since the epoch with microseconds (bash 5).
now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The template's source directory: $KENSA_TEMPLATES/<name> when set (a colleague's worktree),
# else this checkout's templates/<name>. Passed to `kensa create --template` only when
# KENSA_TEMPLATES is set; otherwise kensa uses the template embedded in its binary.
template_dir() { printf '%s' "${KENSA_TEMPLATES:-$root/templates}/$template"; }
template_arg() {
  if [ -n "${KENSA_TEMPLATES:-}" ]; then template_dir; else printf '%s' "$template"; fi
}

# A command from the template's template.toml [commands] table (install, release, start,
# test, consumer); fails when the table has none.
template_command() {
  python3 "$root/e2e/helpers.py" template-command "$(template_dir)/template.toml" "$1"
}

# Debian's jars for the clojure template (the project's deps.edn names the real artifacts).
clojure_classpath() {
  local j=/usr/share/java jar cp=""
  for jar in clojure spec.alpha core.specs.alpha ring-core ring-codec commons-codec commons-io \
    commons-fileupload crypto-random crypto-equality ring-jetty-adapter ring-servlet servlet-api \
    jetty9-server jetty9-http jetty9-io jetty9-util compojure clout instaparse medley tools.macro \
    cheshire jackson-core jackson-dataformat-smile jackson-dataformat-cbor tigris hiccup ring-mock \
    java.jdbc HikariCP slf4j-api slf4j-simple postgresql sqlite-jdbc; do
    [ -f "$j/$jar.jar" ] || { echo "missing $j/$jar.jar (install the lib*-clojure packages)" >&2; return 1; }
    cp="${cp:+$cp:}$j/$jar.jar"
  done
  printf '%s' "$cp"
}

# The command that installs the project's dependencies the way this Debian machine allows
# (template.toml's `install` is what a user with full registry access runs): what
# `kensa templates verify --install` runs in the project. The clojure template's libraries
# are Debian's jars on CLASSPATH (use_debian_jars exports it): its install step checks they
# are all there (the unit tests load them).
install_command() {
  case "$template" in
    node) echo 'npm install --no-audit --no-fund --loglevel=error' ;;
    sinatra) echo 'bundle install --local --quiet' ;;
    clojure) echo 'for jar in $(echo "$CLASSPATH" | tr : " "); do test -f "$jar" || exit 1; done' ;;
    rust-axum)
      echo 'mkdir -p "$KENSA_E2E_CARGO_TARGET" && ln -sfn "$KENSA_E2E_CARGO_TARGET" target && cargo build --release --quiet' ;;
    *) echo "install_command: no install step for template $template" >&2; return 1 ;;
  esac
}

# For the clojure template: Debian's jars on CLASSPATH, exported (bin/run, bin/test and
# bin/web use plain java with them). Other templates: nothing to do.
use_debian_jars() {
  [ "$template" = clojure ] || return 0
  CLASSPATH=$(clojure_classpath) && export CLASSPATH
}

# Installs the project's dependencies, in the project directory (install_command).
install_deps() {
  local command
  use_debian_jars && command=$(install_command) && sh -c "$command"
}

# The command of a Procfile process type (release, web), empty when there is none.
procfile_line() {
  sed -n "s/^$1:[[:space:]]*//p" Procfile 2>/dev/null | head -1
}

# Runs a Procfile process the way Heroku and `heroku local` do: .env loaded, then the
# NAME=value arguments exported (they win over .env), then the line run by a shell.
#   bash -c "$procfile_runner" NAME LINE [NAME=value …]
procfile_runner='set -a; . ./.env; set +a; line=$1; shift
for kv in "$@"; do export "$kv"; done
eval "exec $line"'
run_procfile_process() { bash -c "$procfile_runner" procfile "$@"; }

# --- the web process ---------------------------------------------------------------------
# Globals: server_pid (leader of the process group), server_port, server_log.
server_pid=

# Starts the Procfile's web line in its own process group (setsid) with .env, PORT and the
# NAME=value arguments, appending to $server_log; waits until the port answers.
start_server() {
  local web waited=0
  web=$(procfile_line web)
  [ -n "$web" ] || { echo "Procfile has no web: line" >&2; return 1; }
  if port_answers "$server_port"; then
    echo "port $server_port is taken by another process; the web process cannot listen there" >&2
    return 1
  fi
  printf '\n--- %s web process started: PORT=%s %s\n' "$(date +%T)" "$server_port" \
    "$(printf '%s ' "$@" | sed -E 's#(DATABASE_URL=[a-z]+://[^:]*:)[^@]*@#\1****@#g')" >>"$server_log"
  setsid bash -c "$procfile_runner" web "$web" "PORT=$server_port" "$@" \
    >>"$server_log" 2>&1 </dev/null &
  server_pid=$!
  until port_answers "$server_port"; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      wait "$server_pid" 2>/dev/null
      echo "the web process exited (status $?) before listening on port $server_port" >&2
      server_pid=; return 1
    fi
    sleep 0.25; waited=$((waited + 1))
    if [ $waited -ge 360 ]; then
      echo "the web process does not answer on port $server_port after 90 s" >&2
      return 1
    fi
  done
}

server_alive() { [ -n "${server_pid:-}" ] && kill -0 -- "-$server_pid" 2>/dev/null; }

# SIGTERM to the whole group, then reap; KILL only if it does not stop within 10 s.
stop_server() {
  [ -n "${server_pid:-}" ] || return 0
  kill -TERM -- "-$server_pid" 2>/dev/null
  local i
  for i in $(seq 40); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 -- "-$server_pid" 2>/dev/null; then
    echo "the web process ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL -- "-$server_pid" 2>/dev/null
  fi
  wait "$server_pid" 2>/dev/null
  printf '%s\n' "--- $(date +%T) web process stopped" >>"$server_log"
  server_pid=
}

# SIGKILL to the whole group: a crash, no chance to clean up.
kill_server() {
  [ -n "${server_pid:-}" ] || return 0
  kill -KILL -- "-$server_pid" 2>/dev/null
  local i
  for i in $(seq 40); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.25; done
  wait "$server_pid" 2>/dev/null
  printf '%s\n' "--- $(date +%T) web process killed (SIGKILL to its process group)" >>"$server_log"
  server_pid=
}

# --- a private Postgres server -----------------------------------------------------------
# A cluster of its own in a temporary directory, on its own port, listening on 127.0.0.1
# only, password authentication over TCP (as on Heroku, DATABASE_URL carries a password).
# Run as the postgres user when we are root (initdb refuses root). Globals: pg_bin, pg_dir,
# pg_port, pg_password.
pg_dir=

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "PostgreSQL server binaries not found under /usr/lib/postgresql (Debian: apt-get install postgresql)" >&2
    return 1
  fi
  printf '%s' "$d"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    (cd "$pg_dir" && runuser -u postgres -- "$@")
  else
    (cd "$pg_dir" && "$@")
  fi
}

# pg_start [server option …]: e.g. pg_start -c fsync=off
pg_start() {
  pg_bin=$(pg_bindir) || return 1
  pg_dir=$(mktemp -d /tmp/kensa-pg.XXXXXX) || return 1
  chmod 0755 "$pg_dir"
  pg_port=$(free_port)
  pg_password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  (umask 077; printf '%s\n' "$pg_password" >"$pg_dir/pwfile")
  [ "$(id -u)" != 0 ] || chown postgres "$pg_dir" "$pg_dir/pwfile"
  as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --pwfile="$pg_dir/pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C --no-sync \
    >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; return 1; }
  rm -f "$pg_dir/pwfile"
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 $*" start >/dev/null ||
    { tail -20 "$pg_dir/server.log" >&2; return 1; }
}

pg_stop() {
  [ -n "${pg_dir:-}" ] || return 0
  if [ -f "$pg_dir/data/postmaster.pid" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$pg_dir"
  pg_dir=
}

pg_psql() {
  PGPASSWORD=$pg_password PGCONNECT_TIMEOUT=10 PGOPTIONS='-c client_min_messages=warning' "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$pg_port" -U postgres "$@"
}

# A new, empty database; prints its URL (Heroku's form: postgres://user:password@host:port/db).
pg_fresh_database() {
  pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$1\"" -c "CREATE DATABASE \"$1\"" >/dev/null ||
    return 1
  printf 'postgres://postgres:%s@127.0.0.1:%s/%s' "$pg_password" "$pg_port" "$1"
}
