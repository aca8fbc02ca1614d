/*
 * mch_guard: a mosquitto 2.0 (plugin API v5) ACL plugin for an mch site.
 *
 * mosquitto 2.0.11's acl_file grants every SUBSCRIBE and cannot refuse a retained publish
 * or drop a connected client. This plugin runs before the acl_file check and adds what the
 * acl_file cannot do; for everything else it defers, so the acl_file's pattern lines still
 * decide who may publish and read which topic.
 *
 *   - a shared subscription ($share/...) is refused to every client that is not a hub
 *     identity: a device joining the hub's share group would take its round-robin turn and
 *     the broker would drop those messages (the read check fails on delivery);
 *   - a retained publish is refused to every client that is not a hub identity (uplink
 *     topics carry records that must reach the hub once, never be replayed to subscribers);
 *   - a revoked identity is refused everything, and on every reload (SIGHUP) each connected
 *     client of a revoked identity is disconnected (the CRL only stops new handshakes).
 *
 * The policy is a text file rendered by mch-broker (plugin_opt_policy_file), read at start
 * and on every reload; one entry per line, '#' comments:
 *     hub <username>
 *     revoked <username>
 * A policy that cannot be read at start stops the broker; on reload the old policy is kept
 * and an error is logged.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define PLUGIN_NAME "mch_guard"
#define OPT_POLICY_FILE "policy_file"
#define SHARE_PREFIX "$share/"
#define MAX_LINE 256
#define MAX_NAMES 100000

struct name_set {
	char **names; /* sorted, for bsearch */
	size_t count;
};

struct policy {
	struct name_set hubs;
	struct name_set revoked;
};

static mosquitto_plugin_id_t *plugin_id;
static char *policy_path;
static struct policy current;

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool name_set_has(const struct name_set *set, const char *name)
{
	if(name == NULL || set->count == 0) return false;
	return bsearch(&name, set->names, set->count, sizeof(char *), compare_names) != NULL;
}

static void name_set_free(struct name_set *set)
{
	for(size_t i = 0; i < set->count; i++) free(set->names[i]);
	free(set->names);
	set->names = NULL;
	set->count = 0;
}

static int name_set_add(struct name_set *set, const char *name)
{
	char **grown;
	if(set->count >= MAX_NAMES) return MOSQ_ERR_INVAL;
	grown = realloc(set->names, (set->count + 1) * sizeof(char *));
	if(grown == NULL) return MOSQ_ERR_NOMEM;
	set->names = grown;
	set->names[set->count] = strdup(name);
	if(set->names[set->count] == NULL) return MOSQ_ERR_NOMEM;
	set->count++;
	return MOSQ_ERR_SUCCESS;
}

static void policy_free(struct policy *p)
{
	name_set_free(&p->hubs);
	name_set_free(&p->revoked);
}

/* A username as mch-broker writes it: the certificate CN (letters, digits, '-', '_', '.'). */
static bool valid_name(const char *s)
{
	if(*s == '\0') return false;
	for(; *s; s++){
		char c = *s;
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
				|| c == '-' || c == '_' || c == '.')){
			return false;
		}
	}
	return true;
}

static int policy_read(const char *path, struct policy *out)
{
	FILE *f;
	char line[MAX_LINE];
	int lineno = 0;
	int rc = MOSQ_ERR_SUCCESS;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "r");
	if(f == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": cannot read policy %s: %s", path, strerror(errno));
		return MOSQ_ERR_UNKNOWN;
	}
	while(rc == MOSQ_ERR_SUCCESS && fgets(line, sizeof(line), f) != NULL){
		char kind[16], name[MAX_LINE];
		lineno++;
		if(strchr(line, '\n') == NULL && !feof(f)){
			mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s:%d: line too long", path, lineno);
			rc = MOSQ_ERR_INVAL;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if(line[0] == '\0' || line[0] == '#') continue;
		if(sscanf(line, "%15s %255s", kind, name) != 2 || !valid_name(name)){
			mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s:%d: want 'hub NAME' or 'revoked NAME'", path, lineno);
			rc = MOSQ_ERR_INVAL;
		}else if(!strcmp(kind, "hub")){
			rc = name_set_add(&out->hubs, name);
		}else if(!strcmp(kind, "revoked")){
			rc = name_set_add(&out->revoked, name);
		}else{
			mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": %s:%d: unknown entry '%s'", path, lineno, kind);
			rc = MOSQ_ERR_INVAL;
		}
	}
	fclose(f);
	if(rc != MOSQ_ERR_SUCCESS){
		policy_free(out);
		return rc;
	}
	qsort(out->hubs.names, out->hubs.count, sizeof(char *), compare_names);
	qsort(out->revoked.names, out->revoked.count, sizeof(char *), compare_names);
	return MOSQ_ERR_SUCCESS;
}

static void kick_revoked(void)
{
	for(size_t i = 0; i < current.revoked.count; i++){
		/* no last will: a revoked identity publishes nothing more */
		mosquitto_kick_client_by_username(current.revoked.names[i], false);
	}
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *username = mosquitto_client_username(ed->client);
	(void)event;
	(void)userdata;

	if(name_set_has(&current.revoked, username)){
		return MOSQ_ERR_ACL_DENIED;
	}
	if(name_set_has(&current.hubs, username)){
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if(ed->access == MOSQ_ACL_SUBSCRIBE && !strncmp(ed->topic, SHARE_PREFIX, strlen(SHARE_PREFIX))){
		mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": refused shared subscription %s to %s",
				ed->topic, username ? username : "(none)");
		return MOSQ_ERR_ACL_DENIED;
	}
	if(ed->access == MOSQ_ACL_WRITE && ed->retain){
		mosquitto_log_printf(MOSQ_LOG_WARNING, PLUGIN_NAME ": refused retained publish on %s from %s",
				ed->topic, username ? username : "(none)");
		return MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_reload(int event, void *event_data, void *userdata)
{
	struct policy fresh;
	(void)event;
	(void)event_data;
	(void)userdata;

	if(policy_read(policy_path, &fresh) != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": reload failed, keeping the previous policy");
		kick_revoked();
		return MOSQ_ERR_SUCCESS;
	}
	policy_free(&current);
	current = fresh;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": policy reloaded: %zu hub identities, %zu revoked",
			current.hubs.count, current.revoked.count);
	kick_revoked();
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *opts, int opt_count)
{
	int rc;
	(void)userdata;

	plugin_id = identifier;
	for(int i = 0; i < opt_count; i++){
		if(!strcmp(opts[i].key, OPT_POLICY_FILE)){
			free(policy_path);
			policy_path = strdup(opts[i].value);
		}
	}
	if(policy_path == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, PLUGIN_NAME ": plugin_opt_" OPT_POLICY_FILE " is required");
		return MOSQ_ERR_INVAL;
	}
	rc = policy_read(policy_path, &current);
	if(rc != MOSQ_ERR_SUCCESS) return rc;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, PLUGIN_NAME ": policy %s: %zu hub identities, %zu revoked",
			policy_path, current.hubs.count, current.revoked.count);
	rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
	if(rc != MOSQ_ERR_SUCCESS) return rc;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	(void)userdata;
	(void)opts;
	(void)opt_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL);
	policy_free(&current);
	free(policy_path);
	policy_path = NULL;
	return MOSQ_ERR_SUCCESS;
}
