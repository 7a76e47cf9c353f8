/* Embeds a Plexus server in this program: a Greeter service implemented here (not a
 * module), a server built in code on port 0, run on a thread of the program's own with
 * px_server_run, called through px_client, stopped with px_server_stop. Log lines go
 * to this program's own logger through px_log_set_hook.
 * Usage: embed_greeter MODULE_DIR. Exit 0 when every check passed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>
#include "greet.pb-c.h"

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "embed_greeter: FAIL: " __VA_ARGS__);                      \
            fputc('\n', stderr);                                                       \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* ---- the service ------------------------------------------------------------------ */

static void greet_hello(Greet__Greeter_Service *svc, const Greet__HelloRequest *in,
                        Greet__HelloReply_Closure closure, void *data)
{
    (void)svc;
    if (in->name[0] == '\0') {
        px_handler_fail(data, PX_INVALID_ARGUMENT, "name is empty");
        closure(NULL, data);
        return;
    }
    char text[128];
    snprintf(text, sizeof text, "hello, %s", in->name);
    Greet__HelloReply reply = GREET__HELLO_REPLY__INIT;
    reply.greeting = text;
    reply.server = "embedded";
    closure(&reply, data);
}

static Greet__Greeter_Service greeter = GREET__GREETER__INIT(greet_);

/* ---- the program's logger ----------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int saw_listening; /* the server's "listening on" line came through the hook */

static void my_logger(void *arg, px_log_level lvl, const char *module, const char *msg)
{
    pthread_mutex_lock(&log_lock);
    fprintf((FILE *)arg, "myapp %s %s: %s\n", px_log_level_name(lvl), module, msg);
    if (strstr(msg, "listening on 127.0.0.1:0 = 127.0.0.1:") && strcmp(module, "plexus") == 0)
        saw_listening = 1;
    pthread_mutex_unlock(&log_lock);
}

/* ---- serving on a thread of ours ------------------------------------------------------ */

typedef struct runner {
    px_server *srv;
    px_status st;
    px_err err;
} runner;

static void *run_server(void *arg)
{
    runner *r = arg;
    r->st = px_server_run(r->srv, &r->err);
    return NULL;
}

static px_status hello(px_client *cl, const char *name, Greet__HelloReply **out, px_err *err)
{
    Greet__HelloRequest req = GREET__HELLO_REQUEST__INIT;
    req.name = (char *)name;
    return px_call(cl, "greet.Greeter/Hello", &req.base, &greet__hello_reply__descriptor, NULL,
                   (ProtobufCMessage **)out, err);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: embed_greeter MODULE_DIR");
    px_log_set_hook(my_logger, stdout);
    px_err err = {0};

    /* The server, from code: the same keys as a config file. */
    char path[1200];
    snprintf(path, sizeof path, "['%s']", argv[1]);
    px_server_opts *o = px_server_opts_new();
    CHECK(o, "px_server_opts_new");
    CHECK(px_server_opts_set(o, "modules.path", path, &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_opts_set(o, "server.listen", "127.0.0.1:0", &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_opts_set(o, "server.id", "embedded", &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_opts_set(o, "server.io_threads", "2", &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_opts_set(o, "server.limits.max_frame", "64KiB", &err) == PX_OK, "%s",
          err.msg);
    /* A bad key is refused at once; a bad value by the schema, naming the key. */
    CHECK(px_server_opts_set(o, "Server listen", "x", &err) == PX_INVALID_ARGUMENT,
          "a malformed key was accepted");
    px_server *srv = NULL;
    CHECK(px_server_opts_set(o, "server.shutdown_grace", "soon", &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_new_opts(o, &srv, &err) != PX_OK && srv == NULL,
          "shutdown_grace 'soon' was accepted");
    CHECK(strstr(err.msg, "server.shutdown_grace") != NULL, "the error does not name the key: %s",
          err.msg);
    CHECK(px_server_opts_set(o, "server.shutdown_grace", "2s", &err) == PX_OK, "%s", err.msg);
    CHECK(px_server_new_opts(o, &srv, &err) == PX_OK, "px_server_new_opts: %s", err.msg);
    px_server_opts_free(o);
    CHECK(strcmp(px_server_id(srv), "embedded") == 0, "id %s", px_server_id(srv));
    int port = px_server_port(srv);
    CHECK(port > 0, "px_server_port %d", port);

    CHECK(px_server_add_service(srv, &greeter.base, 2, &err) == PX_OK, "add_service: %s",
          err.msg);
    CHECK(px_server_add_service(srv, &greeter.base, 0, &err) == PX_ALREADY_EXISTS,
          "the same service twice was accepted (%s)", err.msg);

    runner r = {.srv = srv};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, run_server, &r) == 0, "pthread_create");

    /* A client of this very server, from a YAML text. */
    char yaml[600];
    snprintf(yaml, sizeof yaml,
             "modules:\n  path: ['%s']\nclient:\n  upstreams:\n    self:\n"
             "      endpoints: [127.0.0.1:%d]\n"
             "      timeout: {module: fixed, connect: 5s, call: 10s}\n",
             argv[1], port);
    px_config *ccfg = NULL;
    CHECK(px_config_parse(yaml, strlen(yaml), "client.yaml", &ccfg, &err) == PX_OK,
          "px_config_parse: %s", err.msg);
    CHECK(!px_config_has_server(ccfg), "a client config said it has a server");
    px_client *cl = NULL;
    CHECK(px_client_new(ccfg, "self", &cl, &err) == PX_OK, "px_client_new: %s", err.msg);

    Greet__HelloReply *reply = NULL;
    CHECK(hello(cl, "plexus", &reply, &err) == PX_OK, "Hello: %s %s",
          px_status_name(err.status), err.msg);
    CHECK(strcmp(reply->greeting, "hello, plexus") == 0, "greeting '%s'", reply->greeting);
    CHECK(strcmp(reply->server, "embedded") == 0, "server '%s'", reply->server);
    px_msg_free(&reply->base);
    CHECK(hello(cl, "", &reply, &err) == PX_INVALID_ARGUMENT, "an empty name: %s",
          px_status_name(err.status));
    CHECK(strstr(err.msg, "name is empty") != NULL, "message '%s'", err.msg);
    printf("embed_greeter: Hello answered by the embedded server on port %d\n", port);

    /* A module's line goes through the hook too, with its module name. */
    px_log(PX_LOG_WARN, "embed_greeter", "a line of %s", "ours");

    px_client_free(cl);
    px_config_free(ccfg);
    px_server_stop(srv);
    CHECK(pthread_join(th, NULL) == 0, "pthread_join");
    CHECK(r.st == PX_OK, "px_server_run: %s %s", px_status_name(r.st), r.err.msg);
    px_server_free(srv);
    CHECK(saw_listening, "the server's 'listening on' line did not reach the hook");
    px_log_set_hook(NULL, NULL);
    printf("embed_greeter: OK\n");
    return 0;
}
