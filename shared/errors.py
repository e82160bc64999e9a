"""Stable error codes, defined once for server and client.

Every error response is ``{"code", "message", "details", "traceId"}``. The code never changes once
published; the message is the default Spanish (es-AR) text a person can act on.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # generic
    VALIDATION_FAILED = "validation_failed"
    MALFORMED_REQUEST = "malformed_request"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # auth and tenancy
    AUTH_REQUIRED = "auth_required"
    TOKEN_INVALID = "token_invalid"
    TOKEN_EXPIRED = "token_expired"
    PERMISSION_DENIED = "permission_denied"
    ORG_REQUIRED = "org_required"
    ADMIN_TOKEN_INVALID = "admin_token_invalid"
    PHONE_INVALID = "phone_invalid"
    OTP_INVALID = "otp_invalid"
    OTP_EXPIRED = "otp_expired"
    OTP_TOO_MANY_ATTEMPTS = "otp_too_many_attempts"
    OTP_RESEND_TOO_SOON = "otp_resend_too_soon"
    REFRESH_TOKEN_INVALID = "refresh_token_invalid"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    SESSION_REVOKED = "session_revoked"
    USER_INACTIVE = "user_inactive"
    ORG_ALREADY_EXISTS = "org_already_exists"
    PHONE_ALREADY_REGISTERED = "phone_already_registered"
    LAST_OWNER = "last_owner"
    ROLE_NOT_GRANTABLE = "role_not_grantable"
    # cross-cutting services
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
    CAPABILITY_DISABLED = "capability_disabled"
    # fiscal rules
    FISCAL_FIELDS_LOCKED = "fiscal_fields_locked"
    CUIT_INVALID = "cuit_invalid"
    DOCUMENT_INVALID = "document_invalid"
    # customers
    CUSTOMER_PHONE_DUPLICATE = "customer_phone_duplicate"
    # price book
    PRICEBOOK_CODE_DUPLICATE = "pricebook_code_duplicate"
    PRICEBOOK_CATEGORY_DUPLICATE = "pricebook_category_duplicate"
    PRICE_LIST_ZONE_DUPLICATE = "price_list_zone_duplicate"
    PRICEBOOK_IMPORT_INVALID = "pricebook_import_invalid"
    # jobs
    JOB_TRANSITION_NOT_ALLOWED = "job_transition_not_allowed"
    JOB_TRANSITION_ROLE = "job_transition_role"
    JOB_NOT_ASSIGNED = "job_not_assigned"
    JOB_MISSING_FIELDS = "job_missing_fields"
    JOB_CLOSED = "job_closed"
    JOB_TECHNICIAN_INVALID = "job_technician_invalid"
    JOB_REFERENCE_INVALID = "job_reference_invalid"
    JOB_LINE_INVALID = "job_line_invalid"
    JOB_SCHEDULE_INVALID = "job_schedule_invalid"
    # invoices
    INVOICE_NOT_FOUND = "invoice_not_found"
    INVOICE_NOT_DRAFT = "invoice_not_draft"
    INVOICE_LINE_INVALID = "invoice_line_invalid"
    INVOICE_REFERENCE_INVALID = "invoice_reference_invalid"
    INVOICE_ASSOCIATION_INVALID = "invoice_association_invalid"
    INVOICE_DATES_INVALID = "invoice_dates_invalid"
    INVOICE_NOT_READY = "invoice_not_ready"
    INVOICE_TRANSITION_NOT_ALLOWED = "invoice_transition_not_allowed"
    INVOICE_NOT_ISSUED = "invoice_not_issued"
    # payments
    PAYMENT_NOT_FOUND = "payment_not_found"
    PAYMENT_REFERENCE_REQUIRED = "payment_reference_required"
    PAYMENT_AMOUNT_INVALID = "payment_amount_invalid"
    PAYMENT_EXCEEDS_BALANCE = "payment_exceeds_balance"
    PAYMENT_INVOICE_CLOSED = "payment_invoice_closed"
    PAYMENT_NOTHING_DUE = "payment_nothing_due"
    REFUND_NOT_ALLOWED = "refund_not_allowed"
    REFUND_EXCEEDS_PAID = "refund_exceeds_paid"
    DISPUTE_NOT_FOUND = "dispute_not_found"
    DISPUTE_TRANSITION_NOT_ALLOWED = "dispute_transition_not_allowed"
    DISCREPANCY_NOT_FOUND = "discrepancy_not_found"
    MERCADOPAGO_UNAVAILABLE = "mercadopago_unavailable"
    MERCADOPAGO_NOT_CONNECTED = "mercadopago_not_connected"
    MERCADOPAGO_NOT_CONFIGURED = "mercadopago_not_configured"
    MERCADOPAGO_STATE_INVALID = "mercadopago_state_invalid"
    MERCADOPAGO_REJECTED = "mercadopago_rejected"
    WEBHOOK_SIGNATURE_INVALID = "webhook_signature_invalid"
    # queues
    DEAD_LETTER_NOT_FOUND = "dead_letter_not_found"
    # offline sync (server/domain/sync; codes named in the sync protocol, shared/schemas/sync.py)
    SYNC_BATCH_TOO_LARGE = "sync.batch_too_large"
    SYNC_UNKNOWN_OPERATION = "sync.unknown_operation"
    SYNC_OPERATION_INVALID = "sync.operation_invalid"
    SYNC_OP_ID_REUSED = "sync.op_id_reused"
    SYNC_JOB_CANCELLED_ON_SERVER = "sync.job_cancelled_on_server"
    SYNC_TRANSITION_STALE = "sync.transition_stale"
    SYNC_TABLE_UNKNOWN = "sync.table_unknown"
    SYNC_CONFLICT_NOT_FOUND = "sync.conflict_not_found"
    # AFIP padrón A5 lookups
    PADRON_CUIT_NOT_FOUND = "padron_cuit_not_found"
    PADRON_NOT_CONFIGURED = "padron_not_configured"
    PADRON_UNAVAILABLE = "padron_unavailable"


# (HTTP status, default message in Spanish, es-AR)
ERROR_CATALOGUE: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.VALIDATION_FAILED: (422, "Hay datos inválidos en la solicitud. Revisá los campos indicados."),
    ErrorCode.MALFORMED_REQUEST: (400, "La solicitud no se pudo leer. Enviá un JSON válido."),
    ErrorCode.NOT_FOUND: (404, "No encontramos lo que buscás."),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "Esta operación no está permitida en esta dirección."),
    ErrorCode.CONFLICT: (409, "La operación choca con datos existentes."),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "El contenido enviado es demasiado grande."),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "El tipo de contenido no está soportado."),
    ErrorCode.RATE_LIMITED: (429, "Demasiados intentos. Esperá un momento y probá de nuevo."),
    ErrorCode.INTERNAL_ERROR: (500, "Ocurrió un error inesperado. Ya quedó registrado; probá de nuevo."),
    ErrorCode.SERVICE_UNAVAILABLE: (503, "El servicio no está disponible en este momento."),
    ErrorCode.AUTH_REQUIRED: (401, "Tenés que iniciar sesión."),
    ErrorCode.TOKEN_INVALID: (401, "La sesión no es válida. Iniciá sesión de nuevo."),
    ErrorCode.TOKEN_EXPIRED: (401, "La sesión venció. Iniciá sesión de nuevo."),
    ErrorCode.PERMISSION_DENIED: (403, "Tu rol no permite esta operación."),
    ErrorCode.ORG_REQUIRED: (403, "Esta operación necesita una organización."),
    ErrorCode.ADMIN_TOKEN_INVALID: (401, "Falta el token de administración o no es válido."),
    ErrorCode.PHONE_INVALID: (422, "El número de teléfono no es válido."),
    ErrorCode.OTP_INVALID: (400, "El código no es correcto. Revisalo y probá de nuevo."),
    ErrorCode.OTP_EXPIRED: (400, "El código venció o no pediste uno. Pedí un código nuevo."),
    ErrorCode.OTP_TOO_MANY_ATTEMPTS: (429, "Demasiados intentos con este código. Pedí un código nuevo."),
    ErrorCode.OTP_RESEND_TOO_SOON: (429, "Ya te enviamos un código. Esperá un momento antes de pedir otro."),
    ErrorCode.REFRESH_TOKEN_INVALID: (401, "La sesión no es válida o venció. Iniciá sesión de nuevo."),
    ErrorCode.REFRESH_TOKEN_REUSED: (
        401,
        "Esa sesión se usó desde otro lugar y la cerramos por seguridad. Iniciá sesión de nuevo.",
    ),
    ErrorCode.SESSION_REVOKED: (401, "La sesión fue cerrada. Iniciá sesión de nuevo."),
    ErrorCode.USER_INACTIVE: (403, "Tu usuario está desactivado. Hablá con el dueño de la cuenta."),
    ErrorCode.ORG_ALREADY_EXISTS: (409, "Ya hay una organización registrada con ese CUIT."),
    ErrorCode.PHONE_ALREADY_REGISTERED: (409, "Ese teléfono ya pertenece a un usuario de CampoTech."),
    ErrorCode.LAST_OWNER: (409, "La organización tiene que conservar al menos un dueño activo."),
    ErrorCode.ROLE_NOT_GRANTABLE: (403, "Tu rol no puede asignar ese rol."),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (
        409,
        "Esa Idempotency-Key ya se usó con otro contenido. Usá una clave nueva para otra operación.",
    ),
    ErrorCode.IDEMPOTENCY_IN_PROGRESS: (
        409,
        "Una solicitud con la misma Idempotency-Key todavía se está procesando. Probá en unos segundos.",
    ),
    ErrorCode.IDEMPOTENCY_KEY_INVALID: (
        400,
        "La Idempotency-Key debe tener entre 8 y 128 caracteres (letras, números, '-', '_' o '.').",
    ),
    ErrorCode.CAPABILITY_DISABLED: (503, "Esta función está desactivada temporalmente."),
    ErrorCode.FISCAL_FIELDS_LOCKED: (
        409,
        "La factura ya tiene CAE: sus datos fiscales no se pueden cambiar. Emití una nota de crédito o débito.",
    ),
    ErrorCode.CUIT_INVALID: (422, "El CUIT no es válido."),
    ErrorCode.DOCUMENT_INVALID: (422, "El documento no es válido: revisá el tipo y el número."),
    ErrorCode.CUSTOMER_PHONE_DUPLICATE: (
        409,
        "Ya hay un cliente con ese teléfono. Abrí ese cliente en lugar de crear otro.",
    ),
    ErrorCode.PRICEBOOK_CODE_DUPLICATE: (409, "Ya hay un ítem con ese código en la lista de precios."),
    ErrorCode.PRICEBOOK_CATEGORY_DUPLICATE: (409, "Ya hay una categoría con ese nombre."),
    ErrorCode.PRICE_LIST_ZONE_DUPLICATE: (409, "Ya hay una lista de precios para esa zona."),
    ErrorCode.PRICEBOOK_IMPORT_INVALID: (
        422,
        "El archivo tiene errores y no se importó nada. Corregí las líneas indicadas y volvé a subirlo.",
    ),
    ErrorCode.JOB_TRANSITION_NOT_ALLOWED: (
        409,
        "El trabajo no puede pasar a ese estado desde el estado actual. Revisá los estados permitidos.",
    ),
    ErrorCode.JOB_TRANSITION_ROLE: (403, "Tu rol no permite este cambio de estado."),
    ErrorCode.JOB_NOT_ASSIGNED: (403, "Sólo podés cambiar el estado de los trabajos que tenés asignados."),
    ErrorCode.JOB_MISSING_FIELDS: (422, "Faltan datos para este cambio de estado."),
    ErrorCode.JOB_CLOSED: (409, "El trabajo ya está terminado o cancelado: no se puede modificar."),
    ErrorCode.JOB_TECHNICIAN_INVALID: (422, "Sólo se pueden asignar técnicos activos de la organización."),
    ErrorCode.JOB_REFERENCE_INVALID: (422, "El cliente, la dirección o el ítem indicado no existe."),
    ErrorCode.JOB_LINE_INVALID: (422, "Hay una línea del trabajo con datos inválidos."),
    ErrorCode.JOB_SCHEDULE_INVALID: (422, "El horario no es válido: el fin tiene que ser posterior al inicio."),
    ErrorCode.INVOICE_NOT_FOUND: (404, "No existe esa factura."),
    ErrorCode.INVOICE_NOT_DRAFT: (
        409,
        "Sólo se puede modificar una factura en borrador. "
        "Para corregir una factura emitida, hacé una nota de crédito o débito.",
    ),
    ErrorCode.INVOICE_LINE_INVALID: (422, "Hay una línea de la factura con datos inválidos."),
    ErrorCode.INVOICE_REFERENCE_INVALID: (422, "El cliente, el trabajo o el ítem indicado no existe."),
    ErrorCode.INVOICE_ASSOCIATION_INVALID: (
        422,
        "Una nota de crédito o débito tiene que indicar una factura emitida (con CAE) del mismo cliente.",
    ),
    ErrorCode.INVOICE_DATES_INVALID: (
        422,
        "Las fechas del servicio no son válidas: el fin no puede ser anterior al inicio.",
    ),
    ErrorCode.INVOICE_NOT_READY: (
        422,
        "Todavía no se puede pedir el CAE: faltan datos o no cumplen las reglas de AFIP. Revisá los indicados.",
    ),
    ErrorCode.INVOICE_TRANSITION_NOT_ALLOWED: (409, "La factura no puede pasar a ese estado desde el estado actual."),
    ErrorCode.INVOICE_NOT_ISSUED: (
        409,
        "La factura todavía no tiene CAE: el PDF está disponible cuando AFIP la autoriza.",
    ),
    ErrorCode.DEAD_LETTER_NOT_FOUND: (404, "No existe esa tarea fallida."),
    ErrorCode.SYNC_BATCH_TOO_LARGE: (
        413,
        "Se enviaron demasiadas operaciones juntas: mandá como máximo 50 por envío.",
    ),
    ErrorCode.SYNC_UNKNOWN_OPERATION: (
        422,
        "La app envió una operación que el servidor no conoce. Actualizá la app; lo cargado queda guardado.",
    ),
    ErrorCode.SYNC_OPERATION_INVALID: (422, "La operación tiene datos inválidos. Revisá lo cargado."),
    ErrorCode.SYNC_OP_ID_REUSED: (409, "Ese identificador de operación ya se usó para otra cosa."),
    ErrorCode.SYNC_JOB_CANCELLED_ON_SERVER: (
        409,
        "La oficina canceló este trabajo mientras estabas sin conexión. Guardamos lo que cargaste; "
        "avisá a la oficina para decidir qué hacer.",
    ),
    ErrorCode.SYNC_TRANSITION_STALE: (
        409,
        "El trabajo cambió de estado en la oficina y este paso ya no corresponde. Revisá el estado actual.",
    ),
    ErrorCode.SYNC_TABLE_UNKNOWN: (
        422,
        "Esa tabla no se sincroniza. Las tablas son: jobs, customers, customer_addresses, "
        "price_book_items, job_notes, job_photos y job_signatures.",
    ),
    ErrorCode.SYNC_CONFLICT_NOT_FOUND: (404, "No existe ese conflicto de sincronización."),
    ErrorCode.PAYMENT_NOT_FOUND: (404, "No existe ese pago."),
    ErrorCode.PAYMENT_REFERENCE_REQUIRED: (
        422,
        "Para una transferencia o un cheque indicá la referencia (número de operación o de cheque).",
    ),
    ErrorCode.PAYMENT_AMOUNT_INVALID: (422, "El importe tiene que ser mayor que cero, con hasta dos decimales."),
    ErrorCode.PAYMENT_EXCEEDS_BALANCE: (
        422,
        "El importe supera el saldo pendiente de la factura. Revisá el monto o registrá solo lo que falta.",
    ),
    ErrorCode.PAYMENT_INVOICE_CLOSED: (409, "La factura está anulada: no se le pueden registrar cobros."),
    ErrorCode.PAYMENT_NOTHING_DUE: (409, "La factura ya está paga: no queda saldo para cobrar."),
    ErrorCode.REFUND_NOT_ALLOWED: (
        409,
        "Este pago no se puede devolver en su estado actual (solo pagos aprobados y no devueltos del todo).",
    ),
    ErrorCode.REFUND_EXCEEDS_PAID: (
        422,
        "La devolución supera lo cobrado menos lo ya devuelto. Indicá un importe menor o igual al disponible.",
    ),
    ErrorCode.DISPUTE_NOT_FOUND: (404, "No existe ese contracargo o reclamo."),
    ErrorCode.DISPUTE_TRANSITION_NOT_ALLOWED: (409, "El reclamo no puede pasar a ese estado desde el actual."),
    ErrorCode.DISCREPANCY_NOT_FOUND: (404, "No existe esa diferencia de conciliación."),
    ErrorCode.MERCADOPAGO_UNAVAILABLE: (
        503,
        "Mercado Pago no está disponible en este momento. Podés registrar el cobro como pago manual "
        "(efectivo, transferencia o cheque) y volver a generar el link más tarde.",
    ),
    ErrorCode.MERCADOPAGO_NOT_CONNECTED: (
        409,
        "La organización no tiene una cuenta de Mercado Pago conectada. Conectala en Configuración > "
        "Integraciones o registrá un pago manual.",
    ),
    ErrorCode.MERCADOPAGO_NOT_CONFIGURED: (
        503,
        "Mercado Pago no está configurado en este servidor. Registrá los cobros como pagos manuales.",
    ),
    ErrorCode.MERCADOPAGO_STATE_INVALID: (
        400,
        "El enlace de autorización de Mercado Pago venció o ya se usó. Volvé a iniciar la conexión.",
    ),
    ErrorCode.MERCADOPAGO_REJECTED: (422, "Mercado Pago rechazó la operación. Revisá los datos o probá más tarde."),
    ErrorCode.WEBHOOK_SIGNATURE_INVALID: (401, "La firma de la notificación no es válida."),
    ErrorCode.PADRON_CUIT_NOT_FOUND: (
        404,
        "AFIP no tiene ese CUIT en su padrón. Revisá el número o cargá los datos a mano.",
    ),
    ErrorCode.PADRON_NOT_CONFIGURED: (
        409,
        "Para consultar el padrón de AFIP la organización necesita su certificado de AFIP vigente. "
        "El dueño lo puede cargar en Configuración > AFIP.",
    ),
    ErrorCode.PADRON_UNAVAILABLE: (
        503,
        "AFIP no responde en este momento. Probá de nuevo en unos minutos o cargá los datos a mano.",
    ),
}


def status_of(code: ErrorCode) -> int:
    return ERROR_CATALOGUE[code][0]


def message_of(code: ErrorCode) -> str:
    return ERROR_CATALOGUE[code][1]
