/* state.h: vmctld's state dir: one JSON file per guest, NAME.json, written
 * atomically (temp + fsync + rename + directory fsync) so a crash leaves
 * either the old or the new file, never half of one. */
#pragma once

#include <json-c/json.h>

#include "util.h"

/* Create the state dir (0700) or take the one there, which must be the
 * daemon's alone (vmctld_dir_private); temp files of an interrupted write
 * are removed. */
bool vmctld_state_dir_prepare(const char *dir, GError **error);

/* `dir` (a "state dir", "run dir", named so in the error) belongs to this
 * process's user and no one else may write into it: what vmctld reads
 * there and deletes there is its own. */
bool vmctld_dir_private(const char *what, const char *dir, GError **error);

/* Write or replace the state of guest `name`. */
bool vmctld_state_save(const char *dir, const char *name, json_object *state, GError **error);

/* Read one guest's state; NULL with VMCTL_ERROR_NOT_FOUND when absent. */
json_object *vmctld_state_load(const char *dir, const char *name, GError **error);

bool vmctld_state_remove(const char *dir, const char *name, GError **error);

/* Every guest's state as an array, sorted by name. Unreadable files are
 * listed with an "error" member rather than dropped; a file that is not
 * the daemon's own (another owner, writable by others, not a regular
 * file) is not read at all, and a warning says so. */
json_object *vmctld_state_list(const char *dir, GError **error);
