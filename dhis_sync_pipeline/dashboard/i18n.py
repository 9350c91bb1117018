"""English and French strings of the dashboard, the logs page and the JSON API's step labels.

The language comes from `?lang=`, else the `dhis_sync_lang` cookie (set by `?lang=`), else the
browser's `Accept-Language`, else English.
"""

from __future__ import annotations

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "dhis_sync_lang"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app_title": "DHIS2 Sync",
        "dashboard_title": "Automatic sync dashboard",
        "logs_title": "Sync logs",
        "nav_dashboard": "Dashboard",
        "nav_logs": "Logs",
        "nav_dagster": "Dagster UI",
        "total_automatic": "Automatic configurations",
        "total_active": "Active sensors",
        "total_running": "Syncs running",
        "total_synced": "Objects synced in total",
        "last_updated": "Last updated",
        "never": "never",
        "active": "Active",
        "stopped": "Stopped",
        "enabled": "Enabled",
        "disabled": "Disabled",
        "not_configured": "Not configured",
        "manual": "Manual",
        "running": "Running",
        "queued": "Queued",
        "idle": "Idle",
        "start": "Start",
        "stop": "Stop",
        "sync_now": "Sync now",
        "logs": "Logs",
        "view_run": "View run in Dagster",
        "progress": "Progress",
        "current_step": "Current step",
        "current_resource": "Current resource",
        "synced": "Synced",
        "errors": "Errors",
        "speed": "Speed",
        "per_second": "obj/s",
        "time_left": "Time left",
        "elapsed": "Elapsed",
        "resource": "Resource",
        "type": "Type",
        "metadata": "metadata",
        "data": "data",
        "last_run": "Last run",
        "no_run_yet": "No run yet",
        "status_completed": "completed",
        "status_failed": "failed",
        "status_canceled": "canceled",
        "started": "Started",
        "finished": "Finished",
        "check_interval": "Check every",
        "seconds_short": "s",
        "step_starting": "Starting (checking both servers)",
        "step_metadata": "Syncing metadata",
        "step_data": "Syncing data values",
        "step_finishing": "Finishing",
        "daemon_down": "The Dagster daemon is not running: queued runs stay queued and sensors do not tick. "
        "Start it with `dagster-daemon run -w workspace.yaml` (or run `dagster dev -w workspace.yaml`).",
        "action_failed": "The action failed",
        "action_done": "Done",
        "login_title": "Sign in",
        "login_intro": "This dashboard is protected by an access token (DHIS_SYNC_DASHBOARD_TOKEN). "
        "Enter it once: this browser stays signed in until it is closed or the server restarts.",
        "login_token": "Access token",
        "login_submit": "Sign in",
        "login_wrong": "Wrong access token. Check the value of DHIS_SYNC_DASHBOARD_TOKEN on the server and try again.",
        "login_session_lost": "This form has expired (the server restarted, or the browser did not send its "
        "session cookie). Allow cookies for this site, reload the page and try again.",
        "logout": "Sign out",
        "session_expired": "Your session has ended: sign in again",
        "no_configs": "No sync configuration in the configuration file.",
        "source": "Source",
        "destination": "Destination",
        "config_error": "The configuration file cannot be used",
        "filter": "Filter",
        "all_configs": "All configurations",
        "level": "Level",
        "date_from": "From",
        "date_to": "To",
        "time": "Time",
        "configuration": "Configuration",
        "message": "Message",
        "run": "Run",
        "step": "Step",
        "no_logs": "No log line matches these filters.",
        "previous": "Previous",
        "next": "Next",
        "page": "Page",
        "unknown_config": "Unknown sync configuration",
        "refresh_failed": "Could not refresh",
        "language": "Language",
    },
    "fr": {
        "app_title": "Synchronisation DHIS2",
        "dashboard_title": "Tableau de bord de la synchronisation automatique",
        "logs_title": "Journaux de synchronisation",
        "nav_dashboard": "Tableau de bord",
        "nav_logs": "Journaux",
        "nav_dagster": "Interface Dagster",
        "total_automatic": "Configurations automatiques",
        "total_active": "Capteurs actifs",
        "total_running": "Synchronisations en cours",
        "total_synced": "Objets synchronisés au total",
        "last_updated": "Dernière mise à jour",
        "never": "jamais",
        "active": "Actif",
        "stopped": "Arrêté",
        "enabled": "Activé",
        "disabled": "Désactivé",
        "not_configured": "Non configuré",
        "manual": "Manuel",
        "running": "En cours",
        "queued": "En file d'attente",
        "idle": "Inactif",
        "start": "Démarrer",
        "stop": "Arrêter",
        "sync_now": "Synchroniser maintenant",
        "logs": "Journaux",
        "view_run": "Voir l'exécution dans Dagster",
        "progress": "Progression",
        "current_step": "Étape en cours",
        "current_resource": "Ressource en cours",
        "synced": "Synchronisés",
        "errors": "Erreurs",
        "speed": "Vitesse",
        "per_second": "obj/s",
        "time_left": "Temps restant",
        "elapsed": "Écoulé",
        "resource": "Ressource",
        "type": "Type",
        "metadata": "métadonnées",
        "data": "données",
        "last_run": "Dernière exécution",
        "no_run_yet": "Aucune exécution",
        "status_completed": "terminée",
        "status_failed": "échouée",
        "status_canceled": "annulée",
        "started": "Début",
        "finished": "Fin",
        "check_interval": "Vérification toutes les",
        "seconds_short": "s",
        "step_starting": "Démarrage (vérification des deux serveurs)",
        "step_metadata": "Synchronisation des métadonnées",
        "step_data": "Synchronisation des valeurs de données",
        "step_finishing": "Finalisation",
        "daemon_down": "Le démon Dagster ne tourne pas : les exécutions en file d'attente y restent et les "
        "capteurs ne se déclenchent pas. Lancez-le avec `dagster-daemon run -w workspace.yaml` "
        "(ou `dagster dev -w workspace.yaml`).",
        "action_failed": "L'action a échoué",
        "action_done": "Fait",
        "login_title": "Connexion",
        "login_intro": "Ce tableau de bord est protégé par un jeton d'accès (DHIS_SYNC_DASHBOARD_TOKEN). "
        "Saisissez-le une fois : ce navigateur reste connecté jusqu'à sa fermeture ou au redémarrage du serveur.",
        "login_token": "Jeton d'accès",
        "login_submit": "Se connecter",
        "login_wrong": "Jeton d'accès incorrect. Vérifiez la valeur de DHIS_SYNC_DASHBOARD_TOKEN sur le serveur "
        "et réessayez.",
        "login_session_lost": "Ce formulaire a expiré (le serveur a redémarré, ou le navigateur n'a pas envoyé son "
        "cookie de session). Autorisez les cookies pour ce site, rechargez la page et réessayez.",
        "logout": "Se déconnecter",
        "session_expired": "Votre session a pris fin : reconnectez-vous",
        "no_configs": "Aucune configuration de synchronisation dans le fichier de configuration.",
        "source": "Source",
        "destination": "Destination",
        "config_error": "Le fichier de configuration est inutilisable",
        "filter": "Filtrer",
        "all_configs": "Toutes les configurations",
        "level": "Niveau",
        "date_from": "Du",
        "date_to": "Au",
        "time": "Heure",
        "configuration": "Configuration",
        "message": "Message",
        "run": "Exécution",
        "step": "Étape",
        "no_logs": "Aucune ligne de journal ne correspond à ces filtres.",
        "previous": "Précédent",
        "next": "Suivant",
        "page": "Page",
        "unknown_config": "Configuration de synchronisation inconnue",
        "refresh_failed": "Actualisation impossible",
        "language": "Langue",
    },
}
# Instances, configurations and auto-sync settings pages (instance_pages.py, config_pages.py).
# French puts a narrow no-break space (U+202F) before a colon; `colon` is the one to print after a label.
STRINGS["en"].update({
    "colon": ":",
    "date_placeholder": "YYYY-MM-DD",
    "every_seconds": "every {n} s",
    "nav_instances": "Instances",
    "nav_configurations": "Configurations",
    "inst_title": "DHIS2 instances",
    "inst_intro": "The DHIS2 servers that configurations sync between. Saved in",
    "inst_add": "Add an instance",
    "inst_edit": "Edit instance",
    "inst_none": "No instance yet: add the source and destination servers.",
    "inst_unknown": "Unknown instance",
    "inst_name": "Name",
    "inst_name_help": "How configurations refer to this server, e.g. national.",
    "inst_name_fixed": "The name cannot be changed here: configurations refer to it.",
    "inst_url": "Base URL",
    "inst_auth_type": "Authentication",
    "inst_auth_basic": "Username and password",
    "inst_auth_token": "Personal access token",
    "inst_username": "Username",
    "inst_username_help": "For username and password only.",
    "inst_secret_env": "Environment variable holding the secret",
    "inst_secret_env_help": "The NAME of the variable (e.g. DHIS2_SOURCE_PASSWORD), never the password itself: "
    "set it where the dashboard, the Dagster webserver and the daemon run.",
    "inst_secret_set": "set here",
    "inst_secret_unset": "not set here",
    "inst_env_name_invalid": "Write the NAME of an environment variable in capitals, letters, digits and "
    "underscores (e.g. DHIS2_SOURCE_PASSWORD), not the password or token itself. Nothing was saved.",
    "inst_verify_tls": "Verify the server's TLS certificate (turn off for testing only)",
    "inst_used_by": "Used by",
    "inst_saved": "Instance {name} saved in {file}.",
    "inst_test": "Test connection",
    "inst_test_password": "Password or token for this test only (optional)",
    "inst_test_password_help": "Sent to the server for this one test when the variable is not set here; "
    "never saved, logged or shown.",
    "inst_test_typed_note": "Tested with the password typed in the form; syncs will use the environment variable.",
    "inst_test_ok": "Connection works",
    "inst_test_secret_missing": "{env} is not set where the dashboard runs: export it (and restart the "
    "dashboard), or type the password below for this test only.",
    "inst_test_wrong_password": "The server refused the credentials: wrong username, password or token "
    "(or the account is disabled or locked).",
    "inst_test_login_redirect": "The server sent its login page instead of answering: the credentials were "
    "not accepted, or the base URL points at a login portal rather than DHIS2.",
    "inst_test_tls": "TLS problem: the server's certificate could not be verified, or the URL's scheme is wrong.",
    "inst_test_no_answer": "No answer from the server: check the URL, that the server runs and that this "
    "machine can reach it.",
    "inst_test_other": "The server answered, but not as DHIS2 should",
    "inst_version": "Version",
    "inst_time_zone": "Time zone",
    "inst_server_date": "Server time",
    "inst_system_name": "System name",
    "cfg_title": "Sync configurations",
    "cfg_none": "No sync configuration yet.",
    "cfg_create": "Create a configuration",
    "cfg_edit": "Edit",
    "cfg_save": "Save",
    "cfg_cancel": "Cancel",
    "cfg_not_saved": "Not saved: the configuration file was left as it was.",
    "cfg_not_saved_fields": "Not saved: correct the fields marked below (the configuration file was left as it was).",
    "cfg_id": "Id",
    "cfg_id_help": "Lower-case letters, digits and underscores; the Dagster job is sync_<id>.",
    "cfg_id_fixed": "The id cannot be changed: it names the job, its assets and its history.",
    "cfg_name": "Name",
    "cfg_mode": "Mode",
    "cfg_mode_manual": "Manual (run on demand)",
    "cfg_mode_automatic": "Automatic (a sensor syncs what changed)",
    "cfg_mode_automatic_short": "Automatic",
    "cfg_load": "Load from this source",
    "cfg_metadata_types": "Metadata types",
    "cfg_default_set": "the default aggregate set",
    "cfg_propagate_deletions": "Delete on the destination what was deleted on the source",
    "cfg_data": "Data values",
    "cfg_data_help": "leave both empty to sync metadata only",
    "cfg_no_data": "None (metadata only)",
    "cfg_data_sets": "Data sets",
    "cfg_org_units": "Org unit roots (with their children)",
    "cfg_picker_empty": "Nothing listed from the source.",
    "cfg_picker_no_secret": "The lists come from {name}, but {env} is not set where the dashboard runs; "
    "type UIDs below or set the variable.",
    "cfg_picker_failed": "Could not list from {name}: {error}",
    "cfg_typed_uids": "Other UIDs (comma separated)",
    "cfg_window": "Period",
    "cfg_window_relative": "Relative window",
    "cfg_relative_help": "A number and d, w, m or y, e.g. 90d or 12m.",
    "cfg_window_dates": "Fixed dates",
    "cfg_start_date": "Start date",
    "cfg_end_date": "End date",
    "cfg_complete_registrations": "Also sync data set completions",
    "cfg_import_options": "Import options",
    "cfg_import_strategy": "Import strategy",
    "cfg_atomic_mode": "Atomic mode",
    "cfg_merge_mode": "Merge mode",
    "cfg_skip_sharing": "Skip sharing",
    "cfg_dry_run": "Dry run (validate only)",
    "cfg_dagster_job": "Dagster job",
    "cfg_created": "Configuration {id} created.",
    "cfg_created_automatic": "Configuration {id} created in automatic mode. Set up its automatic sync here, "
    "then press Start.",
    "cfg_saved": "Configuration {id} saved.",
    "cfg_settings_saved": "Auto-sync settings of {id} saved.",
    "cfg_stopped": "Sensor of {id} stopped; runs already queued or running finish normally.",
    "cfg_started_msg": "Sensor of {id} started: it checks the source every {n} s and syncs what changed.",
    "cfg_queued_msg": "A run of {id} was queued.",
    "cfg_reloaded": "The Dagster UI ({url}) reloaded the configuration: its jobs, assets and sensors are up to date.",
    "cfg_reload_failed": "The Dagster UI ({url}) could not load the new configuration: {error}",
    "cfg_no_webserver": "No Dagster webserver answered at {url}: the file was saved, but the Dagster UI shows "
    "the change only after Deployment → Reload or a restart.",
    "cfg_form_too_large": "The form is too large",
    "cfg_refused_csrf": "This form has expired (the server restarted or cookies are blocked): reload the page and "
    "try again",
    "cfg_refused_cross_site": "Cross-site request refused",
    "cfg_auto_settings": "Auto-sync settings",
    "cfg_sensor": "Sensor",
    "cfg_not_automatic": "This configuration is manual: saving these settings with the box below ticked makes "
    "it automatic.",
    "cfg_make_automatic": "Make this configuration automatic",
    "cfg_enabled_label": "Enabled: the sensor may be started and syncs when it ticks",
    "cfg_check_interval": "Check interval (seconds)",
    "cfg_max_runs": "Runs per hour at most",
    "cfg_cooldown": "Wait after a failed run (seconds)",
    "cfg_cron": "Full sync (cron)",
    "cfg_cron_help": "Optional, e.g. 0 2 * * 0 for Sundays at 02:00.",
    "cfg_windows": "Allowed time windows",
    "cfg_windows_help": "HH:MM-HH:MM, comma separated, in the source's time zone; empty for all day.",
    "cfg_monitored": "Monitored resources",
    "cfg_monitored_help": "None ticked: everything the configuration syncs.",
    "cfg_cannot_start": "Enable the configuration (and save) before starting its sensor.",
    "cfg_start_help": "Start opens the live dashboard.",
})
STRINGS["fr"].update({
    "colon": "\u202f:",
    "date_placeholder": "AAAA-MM-JJ",
    "every_seconds": "toutes les {n}\u00a0s",
    "nav_instances": "Instances",
    "nav_configurations": "Configurations",
    "inst_title": "Instances DHIS2",
    "inst_intro": "Les serveurs DHIS2 entre lesquels les configurations synchronisent. Enregistrées dans",
    "inst_add": "Ajouter une instance",
    "inst_edit": "Modifier l'instance",
    "inst_none": "Aucune instance\u202f: ajoutez les serveurs source et destination.",
    "inst_unknown": "Instance inconnue",
    "inst_name": "Nom",
    "inst_name_help": "Le nom par lequel les configurations désignent ce serveur, p. ex. national.",
    "inst_name_fixed": "Le nom ne peut pas être changé ici\u202f: des configurations y font référence.",
    "inst_url": "URL de base",
    "inst_auth_type": "Authentification",
    "inst_auth_basic": "Nom d'utilisateur et mot de passe",
    "inst_auth_token": "Jeton d'accès personnel",
    "inst_username": "Nom d'utilisateur",
    "inst_username_help": "Pour l'authentification par mot de passe seulement.",
    "inst_secret_env": "Variable d'environnement contenant le secret",
    "inst_secret_env_help": "Le NOM de la variable (p. ex. DHIS2_SOURCE_PASSWORD), jamais le mot de passe "
    "lui-même\u202f: définissez-la là où tournent le tableau de bord, le serveur web Dagster et le démon.",
    "inst_secret_set": "définie ici",
    "inst_secret_unset": "non définie ici",
    "inst_env_name_invalid": "Écrivez le NOM d'une variable d'environnement en majuscules, lettres, chiffres et "
    "soulignés (p. ex. DHIS2_SOURCE_PASSWORD), pas le mot de passe ni le jeton. Rien n'a été enregistré.",
    "inst_verify_tls": "Vérifier le certificat TLS du serveur (à désactiver pour des essais seulement)",
    "inst_used_by": "Utilisée par",
    "inst_saved": "Instance {name} enregistrée dans {file}.",
    "inst_test": "Tester la connexion",
    "inst_test_password": "Mot de passe ou jeton pour ce test seulement (facultatif)",
    "inst_test_password_help": "Envoyé au serveur pour ce seul test quand la variable n'est pas définie ici\u202f; "
    "jamais enregistré, journalisé ni affiché.",
    "inst_test_typed_note": "Testé avec le mot de passe saisi\u202f; les synchronisations utiliseront la variable "
    "d'environnement.",
    "inst_test_ok": "La connexion fonctionne",
    "inst_test_secret_missing": "{env} n'est pas définie là où tourne le tableau de bord\u202f: exportez-la (et "
    "redémarrez le tableau de bord), ou saisissez le mot de passe ci-dessous pour ce test seulement.",
    "inst_test_wrong_password": "Le serveur a refusé les identifiants\u202f: nom d'utilisateur, mot de passe ou "
    "jeton erroné (ou compte désactivé ou verrouillé).",
    "inst_test_login_redirect": "Le serveur a renvoyé sa page de connexion au lieu de répondre\u202f: les "
    "identifiants n'ont pas été acceptés, ou l'URL mène à un portail de connexion plutôt qu'à DHIS2.",
    "inst_test_tls": "Problème TLS\u202f: le certificat du serveur n'a pas pu être vérifié, ou le schéma de "
    "l'URL est faux.",
    "inst_test_no_answer": "Pas de réponse du serveur\u202f: vérifiez l'URL, que le serveur tourne et que "
    "cette machine peut l'atteindre.",
    "inst_test_other": "Le serveur a répondu, mais pas comme DHIS2 le devrait",
    "inst_version": "Version",
    "inst_time_zone": "Fuseau horaire",
    "inst_server_date": "Heure du serveur",
    "inst_system_name": "Nom du système",
    "cfg_title": "Configurations de synchronisation",
    "cfg_none": "Aucune configuration de synchronisation.",
    "cfg_create": "Créer une configuration",
    "cfg_edit": "Modifier",
    "cfg_save": "Enregistrer",
    "cfg_cancel": "Annuler",
    "cfg_not_saved": "Non enregistré\u202f: le fichier de configuration est resté tel quel.",
    "cfg_not_saved_fields": "Non enregistré\u202f: corrigez les champs signalés ci-dessous (le fichier de "
    "configuration est resté tel quel).",
    "cfg_id": "Identifiant",
    "cfg_id_help": "Minuscules, chiffres et soulignés\u202f; le job Dagster s'appelle sync_<identifiant>.",
    "cfg_id_fixed": "L'identifiant ne peut pas être changé\u202f: il nomme le job, ses assets et son historique.",
    "cfg_name": "Nom",
    "cfg_mode": "Mode",
    "cfg_mode_manual": "Manuel (à la demande)",
    "cfg_mode_automatic": "Automatique (un capteur synchronise ce qui a changé)",
    "cfg_mode_automatic_short": "Automatique",
    "cfg_load": "Charger depuis cette source",
    "cfg_metadata_types": "Types de métadonnées",
    "cfg_default_set": "l'ensemble agrégé par défaut",
    "cfg_propagate_deletions": "Supprimer sur la destination ce qui a été supprimé sur la source",
    "cfg_data": "Valeurs de données",
    "cfg_data_help": "laissez les deux vides pour ne synchroniser que les métadonnées",
    "cfg_no_data": "Aucune (métadonnées seulement)",
    "cfg_data_sets": "Ensembles de données",
    "cfg_org_units": "Unités d'organisation racines (avec leurs enfants)",
    "cfg_picker_empty": "Rien n'a été listé depuis la source.",
    "cfg_picker_no_secret": "Les listes viennent de {name}, mais {env} n'est pas définie là où tourne le "
    "tableau de bord\u202f; saisissez des UID ci-dessous ou définissez la variable.",
    "cfg_picker_failed": "Impossible de lister depuis {name}\u202f: {error}",
    "cfg_typed_uids": "Autres UID (séparés par des virgules)",
    "cfg_window": "Période",
    "cfg_window_relative": "Fenêtre relative",
    "cfg_relative_help": "Un nombre et d, w, m ou y, p. ex. 90d ou 12m.",
    "cfg_window_dates": "Dates fixes",
    "cfg_start_date": "Date de début",
    "cfg_end_date": "Date de fin",
    "cfg_complete_registrations": "Synchroniser aussi les complétudes des ensembles de données",
    "cfg_import_options": "Options d'import",
    "cfg_import_strategy": "Stratégie d'import",
    "cfg_atomic_mode": "Mode atomique",
    "cfg_merge_mode": "Mode de fusion",
    "cfg_skip_sharing": "Ignorer le partage",
    "cfg_dry_run": "Essai à blanc (validation seulement)",
    "cfg_dagster_job": "Job Dagster",
    "cfg_created": "Configuration {id} créée.",
    "cfg_created_automatic": "Configuration {id} créée en mode automatique. Réglez ici sa synchronisation "
    "automatique, puis appuyez sur Démarrer.",
    "cfg_saved": "Configuration {id} enregistrée.",
    "cfg_settings_saved": "Réglages de synchronisation automatique de {id} enregistrés.",
    "cfg_stopped": "Capteur de {id} arrêté\u202f; les exécutions déjà en file ou en cours se terminent normalement.",
    "cfg_started_msg": "Capteur de {id} démarré\u202f: il interroge la source toutes les {n}\u00a0s et "
    "synchronise ce qui a changé.",
    "cfg_queued_msg": "Une exécution de {id} a été mise en file d'attente.",
    "cfg_reloaded": "L'interface Dagster ({url}) a rechargé la configuration\u202f: ses jobs, assets et capteurs "
    "sont à jour.",
    "cfg_reload_failed": "L'interface Dagster ({url}) n'a pas pu charger la nouvelle configuration\u202f: {error}",
    "cfg_no_webserver": "Aucun serveur web Dagster n'a répondu à {url}\u202f: le fichier est enregistré, mais "
    "l'interface Dagster ne montrera le changement qu'après Deployment → Reload ou un redémarrage.",
    "cfg_form_too_large": "Le formulaire est trop volumineux",
    "cfg_refused_csrf": "Ce formulaire a expiré (le serveur a redémarré ou les cookies sont bloqués)\u202f: "
    "rechargez la page et réessayez",
    "cfg_refused_cross_site": "Requête intersite refusée",
    "cfg_auto_settings": "Synchronisation automatique",
    "cfg_sensor": "Capteur",
    "cfg_not_automatic": "Cette configuration est manuelle\u202f: enregistrer ces réglages avec la case "
    "ci-dessous cochée la rend automatique.",
    "cfg_make_automatic": "Rendre cette configuration automatique",
    "cfg_enabled_label": "Activée\u202f: le capteur peut être démarré et synchronise à chaque vérification",
    "cfg_check_interval": "Intervalle de vérification (secondes)",
    "cfg_max_runs": "Exécutions par heure au plus",
    "cfg_cooldown": "Attente après un échec (secondes)",
    "cfg_cron": "Synchronisation complète (cron)",
    "cfg_cron_help": "Facultatif, p. ex. 0 2 * * 0 pour le dimanche à 02\u202fh\u202f00.",
    "cfg_windows": "Plages horaires autorisées",
    "cfg_windows_help": "HH:MM-HH:MM, séparées par des virgules, dans le fuseau de la source\u202f; vide pour "
    "toute la journée.",
    "cfg_monitored": "Ressources surveillées",
    "cfg_monitored_help": "Aucune cochée\u202f: tout ce que la configuration synchronise.",
    "cfg_cannot_start": "Activez la configuration (et enregistrez) avant de démarrer son capteur.",
    "cfg_start_help": "Démarrer ouvre le tableau de bord en direct.",
})


def choose_language(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    for candidate in (query_lang, cookie_lang):
        if candidate and candidate.lower()[:2] in LANGUAGES:
            return candidate.lower()[:2]
    for code, _quality in _parse_accept_language(accept_language or ""):
        if code[:2] in LANGUAGES:
            return code[:2]
    return DEFAULT_LANGUAGE


def _parse_accept_language(header: str) -> list[tuple[str, float]]:
    languages = []
    for part in header.split(","):
        pieces = part.strip().split(";")
        code = pieces[0].strip().lower()
        if not code:
            continue
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        languages.append((code, quality))
    return sorted(languages, key=lambda item: -item[1])


def strings(lang: str) -> dict[str, str]:
    return STRINGS.get(lang, STRINGS[DEFAULT_LANGUAGE])


def step_label(step: str | None, lang: str) -> str:
    """A step code stored by a reporter (metadata, data, …) as words; free text is kept."""
    if not step:
        return strings(lang)["step_starting"]
    key = f"step_{step}"
    return strings(lang).get(key, step)
