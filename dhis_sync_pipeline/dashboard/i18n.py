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

# History page and its downloads (history_pages.py, history.html, static/history.js).
STRINGS["en"].update({
    "history": "History",
    "history_title": "Sync history",
    "history_last_days": "Last {days} days",
    "history_runs": "Runs",
    "history_succeeded": "Succeeded",
    "history_failed": "Failed",
    "history_canceled": "Canceled",
    "history_other": "Other",
    "history_objects": "Objects synced",
    "history_values": "Values synced",
    "history_rejected": "Rejected",
    "history_duration": "Duration",
    "history_mean_duration": "Mean duration",
    "history_seconds": "seconds",
    "history_chart_runs": "Runs per day by status",
    "history_chart_synced": "Objects and values synced per day",
    "history_chart_rejected": "Rejected objects per day",
    "history_chart_duration": "Duration of each run (s)",
    "history_downloads": "Downloads",
    "history_runs_csv": "Runs (CSV)",
    "history_runs_json": "Runs (JSON)",
    "history_resources_csv": "Per resource (CSV)",
    "history_resources_json": "Per resource (JSON)",
    "history_rejected_csv": "Rejected (CSV)",
    "history_no_runs": "No run in this period.",
    "history_started": "Started",
    "history_status": "Status",
    "history_failed_step": "Failed step",
    "history_started_by": "Started by",
    "history_back": "Back to the dashboard",
})
STRINGS["fr"].update({
    "history": "Historique",
    "history_title": "Historique des synchronisations",
    "history_last_days": "{days} derniers jours",
    "history_runs": "Exécutions",
    "history_succeeded": "Réussies",
    "history_failed": "Échouées",
    "history_canceled": "Annulées",
    "history_other": "Autres",
    "history_objects": "Objets synchronisés",
    "history_values": "Valeurs synchronisées",
    "history_rejected": "Rejetés",
    "history_duration": "Durée",
    "history_mean_duration": "Durée moyenne",
    "history_seconds": "secondes",
    "history_chart_runs": "Exécutions par jour et par statut",
    "history_chart_synced": "Objets et valeurs synchronisés par jour",
    "history_chart_rejected": "Objets rejetés par jour",
    "history_chart_duration": "Durée de chaque exécution (s)",
    "history_downloads": "Téléchargements",
    "history_runs_csv": "Exécutions (CSV)",
    "history_runs_json": "Exécutions (JSON)",
    "history_resources_csv": "Par ressource (CSV)",
    "history_resources_json": "Par ressource (JSON)",
    "history_rejected_csv": "Rejetés (CSV)",
    "history_no_runs": "Aucune exécution sur cette période.",
    "history_started": "Début",
    "history_status": "Statut",
    "history_failed_step": "Étape en échec",
    "history_started_by": "Lancée par",
    "history_back": "Retour au tableau de bord",
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
