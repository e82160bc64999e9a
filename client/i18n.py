"""The client's one es-AR text catalogue: every string a person reads goes through ``t(key, **params)``.

Keys are dotted (``screen.thing``); params use ``str.format`` names. A missing key is a bug, caught by
``tests/client/ui/test_i18n.py`` (every key the UI and view-models use must be here); at run time it
shows the key itself rather than crashing a technician's screen.
"""

from __future__ import annotations

import datetime

CATALOGUE: dict[str, str] = {
    # app
    "app.title": "CampoTech",
    "app.loading": "Cargando…",
    "app.unsupported_role": "Tu rol ({role}) no usa esta aplicación. Entrá desde la web de administración.",
    # login
    "login.title": "Ingresá con tu celular",
    "login.phone_label": "Número de celular",
    "login.phone_hint": "Ej.: 11 5555-0001",
    "login.send_code": "Enviar código",
    "login.code_title": "Te mandamos un código por SMS o WhatsApp al {phone}",
    "login.code_label": "Código de 6 dígitos",
    "login.verify": "Ingresar",
    "login.change_phone": "Cambiar número",
    "login.code_invalid_format": "El código tiene 6 números.",
    "login.offline": "No hay conexión con el servidor. Revisá la señal e intentá de nuevo.",
    "login.unexpected": "No pudimos ingresar. Intentá de nuevo en un momento.",
    "login.session_expired": "Tu sesión venció. Ingresá de nuevo.",
    "login.device_name": "App CampoTech",
    # phone problems (shared.phones.PhoneProblem)
    "phone.empty": "Falta el número de celular.",
    "phone.not_a_number": "Eso no parece un número de teléfono.",
    "phone.invalid": "El número no es válido. Escribilo con característica, por ejemplo 11 5555-0001.",
    # server error codes the login and the screens may show (shared.errors.ErrorCode)
    "error.otp_invalid": "El código no es correcto. Revisalo e intentá de nuevo.",
    "error.otp_expired": "El código venció. Pedí uno nuevo.",
    "error.otp_too_many_attempts": "Demasiados intentos con ese código. Pedí uno nuevo.",
    "error.otp_resend_too_soon": "Esperá un minuto antes de pedir otro código.",
    "error.phone_invalid": "El número no es válido. Escribilo con característica, por ejemplo 11 5555-0001.",
    "error.user_inactive": "Tu usuario está desactivado. Hablá con la oficina.",
    "error.rate_limited": "Demasiados intentos. Esperá un momento y probá de nuevo.",
    # today
    "today.title": "Trabajos de hoy",
    "today.empty": "No tenés trabajos para hoy.",
    "today.no_time": "Sin horario",
    "today.maps": "Cómo llegar",
    "today.open": "Ver trabajo",
    "today.no_address": "Sin dirección",
    # offline banner and sync indicator
    "sync.offline_banner": "Sin conexión: lo que hagas se guarda en el teléfono y se envía solo al volver la señal.",
    "sync.pending": "{count} cambios sin enviar",
    "sync.pending_one": "1 cambio sin enviar",
    "sync.all_sent": "Todo enviado",
    "sync.never": "Todavía no se sincronizó",
    "sync.last": "Última sincronización {ago}",
    "sync.syncing": "Sincronizando…",
    "sync.error": "No se pudo sincronizar; se reintenta solo.",
    "sync.now": "Sincronizar ahora",
    # relative times
    "ago.now": "recién",
    "ago.minutes": "hace {n} min",
    "ago.hours": "hace {n} h",
    "ago.days": "hace {n} días",
    "ago.one_day": "hace 1 día",
    # job statuses
    "status.pending": "Pendiente",
    "status.scheduled": "Programado",
    "status.en_camino": "En camino",
    "status.working": "Trabajando",
    "status.completed": "Completado",
    "status.cancelled": "Cancelado",
    # job events (the big buttons)
    "event.schedule": "Programar",
    "event.unschedule": "Quitar de la agenda",
    "event.start_travel": "Salgo para allá",
    "event.stop_travel": "Volver a programado",
    "event.start_work": "Llegué, empiezo",
    "event.complete": "Terminar trabajo",
    "event.cancel": "Cancelar trabajo",
    # job detail
    "job.back": "Volver",
    "job.customer": "Cliente: {name}",
    "job.address": "Dirección: {address}",
    "job.status": "Estado: {status}",
    "job.schedule": "Horario: {start}",
    "job.lines": "Trabajos y materiales",
    "job.notes": "Notas",
    "job.add_note": "Agregar nota",
    "job.note_label": "Nota",
    "job.note_empty": "Escribí la nota antes de guardarla.",
    "job.note_saved": "Nota guardada en el teléfono.",
    "job.saved": "Guardado. Se envía al servidor cuando haya señal.",
    "job.not_found": "Ese trabajo ya no está en el teléfono. Volvé a la lista y sincronizá.",
    "job.no_moves": "No hay cambios de estado disponibles para este trabajo.",
    "job.refused": "No se pudo: {message}",
    # completion
    "completion.title": "Terminar el trabajo",
    "completion.photos": "Fotos",
    "completion.add_photo": "Agregar foto",
    "completion.photo_count": "{count} fotos",
    "completion.photo_count_one": "1 foto",
    "completion.remove_photo": "Quitar",
    "completion.photo_too_big": 'La foto "{name}" pesa más de {max_mb} MB. Elegí otra o sacala con menos calidad.',
    "completion.photo_not_image": '"{name}" no es una imagen (JPG, PNG o WEBP).',
    "completion.signature": "Firma del cliente",
    "completion.clear_signature": "Borrar firma",
    "completion.notes": "Notas de cierre",
    "completion.materials": "Materiales usados",
    "completion.search_material": "Buscar en la lista de precios",
    "completion.add_material": "Agregar",
    "completion.remove_material": "Quitar",
    "completion.quantity": "Cantidad",
    "completion.quantity_invalid": 'La cantidad de "{name}" tiene que ser un número mayor que cero.',
    "completion.minutes": "Minutos trabajados",
    "completion.minutes_invalid": "Los minutos tienen que ser un número entero entre 1 y 1440.",
    "completion.missing": "Falta completar: {fields}.",
    "completion.submit": "Guardar y terminar",
    "completion.done": "Trabajo terminado. Se envía al servidor cuando haya señal.",
    "completion.or": " o ",
    # field names (shared.states.job REQUIRED_FIELDS)
    "field.completion_notes": "notas de cierre",
    "field.photos": "al menos una foto",
    "field.signature": "la firma del cliente",
    "field.actual_minutes": "los minutos trabajados",
    "field.scheduled_start": "la fecha y hora de la visita",
    "field.technician_ids": "un técnico asignado",
    "field.cancel_reason": "el motivo de la cancelación",
    # conflicts
    "conflicts.title": "Avisos",
    "conflicts.empty": "No hay avisos pendientes.",
    "conflicts.acknowledge": "Entendido",
    "conflicts.job": "Trabajo: {title}",
    # price book
    "pricebook.title": "Lista de precios",
    "pricebook.search": "Buscar",
    "pricebook.empty": "No hay ítems que coincidan.",
    "pricebook.price": "$ {price}",
    # settings
    "settings.title": "Ajustes",
    "settings.user": "{name} ({role})",
    "settings.advanced": "Modo avanzado (pestañas con avisos, precios y ajustes)",
    "settings.logout": "Cerrar sesión",
    # roles
    "role.owner": "Dueño",
    "role.admin": "Administración",
    "role.dispatcher": "Despacho",
    "role.technician": "Técnico",
    "role.accountant": "Contaduría",
    # advanced tabs
    "tab.today": "Hoy",
    "tab.conflicts": "Avisos",
    "tab.pricebook": "Precios",
    "tab.settings": "Ajustes",
    "mode.simple": "Modo simple",
    "mode.advanced": "Modo avanzado",
    # local refusals of the technician's actions (client.actions.ActionRefused)
    "action.photo_too_large": "La foto es demasiado grande.",
    "action.photo_unreadable": "No se pudo leer la imagen. Probá con otra foto (JPEG o PNG).",
    "action.job_not_on_device": "El trabajo no está en el teléfono. Sincronizá e intentá de nuevo.",
    "action.unknown_event": "Ese cambio de estado no existe.",
    "action.minutes_invalid": "La duración real tiene que ser de 1 minuto o más.",
    "action.too_many_materials": "Se pueden cargar hasta {max} materiales.",
    "action.completion_notes_too_long": "Las notas de cierre son demasiado largas.",
    "action.material_needs_item": "Cada material necesita un ítem o una descripción.",
    "action.material_quantity_not_number": "La cantidad del material no es un número.",
    "action.material_quantity_not_positive": "La cantidad del material tiene que ser mayor a 0.",
    "action.note_too_long": "La nota es demasiado larga (hasta {max} caracteres).",
    "action.signer_name_too_long": "El nombre de quien firma es demasiado largo.",
    "action.signature_empty": "La firma está vacía: pedile al cliente que firme.",
    "action.signature_too_many_strokes": "La firma tiene demasiados trazos. Borrala y firmá de nuevo.",
    "action.signature_stroke_too_long": "Un trazo de la firma es demasiado largo.",
    # API client (client.api): connection, session and server answers
    "api.offline": "Sin conexión con el servidor. Tus cambios quedan guardados en el teléfono.",
    "api.session_expired": "La sesión venció. Iniciá sesión de nuevo.",
    "api.sign_in_required": "Iniciá sesión para continuar.",
    "api.server_status": "El servidor respondió {status}.",
    "api.photo_hash_mismatch": "La foto llegó dañada al servidor; se vuelve a enviar.",
    # photo and signature uploads (client.attachments)
    "upload.photo_missing": "La foto ya no está en el teléfono; sacala de nuevo.",
    "upload.photo_failed": "No se pudo subir una foto: {message}",
    "upload.signature_failed": "No se pudo subir la firma: {message}",
    # sync engine and outbox (client.sync.engine, client.outbox)
    "sync.reset_loop": "El servidor reinicia la sincronización una y otra vez.",
    "sync.unexpected_error": "Error inesperado al sincronizar; se reintenta solo.",
    "sync.change_rejected": "El servidor no aceptó este cambio.",
    # the office's side of sync conflicts (dispatch board)
    "office_conflicts.title": "Conflictos de sincronización",
    "office_conflicts.empty": "No hay conflictos para revisar.",
    "office_conflicts.device": "Lo que hizo el técnico ({when}): {action}.",
    "office_conflicts.notes": "Notas del técnico: {notes}",
    "office_conflicts.acknowledge": "Visto",
    # dispatcher board / owner dashboard placeholders
    "board.title": "Tablero de despacho",
    "board.placeholder": "El tablero completo llega pronto. Estos son los trabajos de hoy:",
    "board.row": "{time} · {title} · {status}",
    "dashboard.title": "Panel del negocio",
    "dashboard.placeholder": "El panel de escritorio llega pronto.",
    "dashboard.jobs_today": "Trabajos de hoy: {count}",
    "dashboard.pending_sync": "Cambios sin enviar: {count}",
}


def t(key: str, **params: object) -> str:
    """The es-AR text of ``key`` with ``params`` filled in (the key itself if it is missing)."""
    text = CATALOGUE.get(key)
    if text is None:
        return key
    return text.format(**params) if params else text


def tn(key: str, count: int, **params: object) -> str:
    """``t`` for a count: ``key + "_one"`` when ``count`` is 1 and the catalogue has it ("1 foto", "3 fotos")."""
    if count == 1 and f"{key}_one" in CATALOGUE:
        return t(f"{key}_one", count=count, **params)
    return t(key, count=count, **params)


def has(key: str) -> bool:
    return key in CATALOGUE


def ago(moment: datetime.datetime | None, now: datetime.datetime) -> str:
    """``hace 3 min`` style text for ``moment`` seen from ``now`` (both aware, or both naive)."""
    if moment is None:
        return t("sync.never")
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return t("ago.now")
    minutes = seconds // 60
    if minutes < 60:
        return t("ago.minutes", n=minutes)
    hours = minutes // 60
    if hours < 24:
        return t("ago.hours", n=hours)
    days = hours // 24
    return t("ago.one_day") if days == 1 else t("ago.days", n=days)
