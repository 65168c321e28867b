/* state.h: vmctld's state dir: one JSON file per guest, NAME.json, written
 * atomically (temp + fsync + rename + directory fsync) so a crash leaves
 * either the old or the new file, never half of one. */
#pragma once

#include <json-c/json.h>

#include "util.h"

bool vmctld_state_dir_prepare(const char *dir, GError **error);

/* Write or replace the state of guest `name`. */
bool vmctld_state_save(const char *dir, const char *name, json_object *state, GError **error);

/* Read one guest's state; NULL with VMCTL_ERROR_NOT_FOUND when absent. */
json_object *vmctld_state_load(const char *dir, const char *name, GError **error);

bool vmctld_state_remove(const char *dir, const char *name, GError **error);

/* Every guest's state as an array, sorted by name. Unreadable files are
 * listed with an "error" member rather than dropped. */
json_object *vmctld_state_list(const char *dir, GError **error);
