# Shell functions of the demo scripts (tools/run-demo.sh, tools/run-tls-demo.sh); sourced,
# not run. Messages start with $DEMO (the script's name).

# demo_need_binaries BIN EXE...: every EXE is built in BIN, or a message and exit 1.
demo_need_binaries() {
    local bin=$1 exe
    shift
    for exe in "$@"; do
        if [[ ! -x $bin/$exe ]]; then
            echo "$DEMO: $bin/$exe is missing: build first (make, or BUILD=your/build/dir)" >&2
            exit 1
        fi
    done
}

# demo_port_answers PORT: something accepts connections on 127.0.0.1:PORT.
demo_port_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# demo_ports_free PORT...: none is taken (a taken port would make our plexusd fail while
# the readiness check passes), or a message and exit 1.
demo_ports_free() {
    local port
    for port in "$@"; do
        if demo_port_answers "$port"; then
            echo "$DEMO: something already listens on 127.0.0.1:$port; stop it first" >&2
            exit 1
        fi
    done
}

# demo_wait_listening PID PORT NAME: a bounded poll (about 10 s) until the server PID
# listens on PORT; returns 1 with a message when it died or took too long.
demo_wait_listening() {
    local pid=$1 port=$2 name=$3 tries=0
    until demo_port_answers "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$DEMO: $name exited before listening on $port" >&2
            return 1
        fi
        if ((++tries > 200)); then
            echo "$DEMO: $name is not listening on $port after 10s" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "$DEMO: $name (pid $pid) listens on 127.0.0.1:$port"
}

# demo_show ARG...: prints the command as it would be typed (arguments with other
# characters than these quoted), after an empty line.
demo_show() {
    local shown="" a
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9./_:=-]+$ ]]; then shown+=" $a"; else shown+=" '$a'"; fi
    done
    echo
    echo "\$${shown}"
}
