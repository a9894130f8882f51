/**
 * The one registry of govshare error codes.
 *
 * Every code is `GS_ERR_<AREA>_<PROBLEM>`, has an HTTP status and an English message template
 * with a Chinese twin (the console shows both). Codes are never reused or renumbered: a retired
 * code stays here, marked `retired`. `docs/errors.md` documents every code; a test checks it.
 */
export interface ErrorDefinition {
  readonly status: number;
  readonly message: string;
  readonly messageZh: string;
  readonly retired?: true;
}

export const ERRORS = {
  // request shape
  GS_ERR_REQUEST_INVALID: { status: 400, message: 'The request is invalid: {summary}', messageZh: '请求不合法：{summaryZh}' },
  GS_ERR_REQUEST_MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON: {reason}', messageZh: '请求体不是合法的 JSON：{reason}' },
  GS_ERR_REQUEST_TOO_LARGE: { status: 413, message: 'The request body exceeds the limit of {limit} bytes', messageZh: '请求体超过 {limit} 字节的上限' },
  GS_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content type {contentType} is not supported', messageZh: '不支持的内容类型 {contentType}' },
  GS_ERR_REQUEST_NOT_FOUND: { status: 404, message: 'No route {method} {url}', messageZh: '不存在的接口 {method} {url}' },
  GS_ERR_REQUEST_DUPLICATE: { status: 409, message: 'A record with the same key already exists ({constraint})', messageZh: '已存在相同标识的记录（{constraint}）' },
  GS_ERR_REQUEST_CONFLICT: { status: 409, message: 'The record was changed by someone else (expected version {expected}, found {actual})', messageZh: '记录已被他人修改（期望版本 {expected}，实际 {actual}）' },

  // authentication and sessions
  GS_ERR_AUTH_REQUIRED: { status: 401, message: 'Authentication required', messageZh: '需要登录' },
  GS_ERR_AUTH_INVALID_CREDENTIALS: { status: 401, message: 'Wrong user name or password', messageZh: '用户名或密码错误' },
  GS_ERR_AUTH_TOTP_REQUIRED: { status: 401, message: 'A one-time code from the authenticator app is required', messageZh: '需要输入动态验证码' },
  GS_ERR_AUTH_TOTP_INVALID: { status: 401, message: 'The one-time code is wrong or was already used', messageZh: '动态验证码错误或已使用' },
  GS_ERR_AUTH_LOCKED: { status: 423, message: 'The account is locked after {attempts} failed attempts until {until}', messageZh: '连续 {attempts} 次登录失败，账号已锁定至 {until}' },
  GS_ERR_AUTH_ACCOUNT_INACTIVE: { status: 401, message: 'The account is deactivated', messageZh: '账号已停用' },
  GS_ERR_AUTH_SESSION_EXPIRED: { status: 401, message: 'The session has expired ({reason}); log in again', messageZh: '会话已过期（{reason}），请重新登录' },
  GS_ERR_AUTH_SESSION_NOT_FOUND: { status: 404, message: 'You have no active session {id}', messageZh: '您没有编号为 {id} 的有效会话' },
  GS_ERR_AUTH_TOKEN_INVALID: { status: 401, message: 'The API token is unknown, expired or revoked', messageZh: 'API 令牌无效、已过期或已吊销' },
  GS_ERR_AUTH_RATE_LIMITED: { status: 429, message: 'Too many login attempts from this address; try again in {retryAfterSeconds} s', messageZh: '该地址登录尝试过多，请 {retryAfterSeconds} 秒后再试' },
  GS_ERR_AUTH_SETUP_REQUIRED: { status: 403, message: 'Finish account setup first: {steps}', messageZh: '请先完成账号设置：{steps}' },
  GS_ERR_AUTH_FORBIDDEN: { status: 403, message: 'Permission {permission} is required', messageZh: '需要权限 {permission}' },
  GS_ERR_AUTH_WRONG_AGENCY: { status: 403, message: 'This action is limited to your own agency', messageZh: '只能操作本单位的数据' },
  GS_ERR_AUTH_PASSWORD_RULE: { status: 400, message: 'The new password breaks the password rule: {problems}', messageZh: '新密码不符合密码规则：{problems}' },
  GS_ERR_AUTH_PASSWORD_REUSED: { status: 400, message: 'The new password must differ from the current one', messageZh: '新密码不能与当前密码相同' },
  GS_ERR_AUTH_TOTP_NOT_ENROLLED: { status: 409, message: 'No authenticator enrolment is pending; start enrolment first', messageZh: '没有待确认的动态口令绑定，请先发起绑定' },
  GS_ERR_AUTH_CERT_REQUIRED: { status: 401, message: 'Certificate login needs a client certificate of the platform CA presented over HTTPS on the console port ({reason})', messageZh: '证书登录需要在控制台端口通过 HTTPS 出示平台 CA 签发的客户端证书（{reason}）' },
  GS_ERR_AUTH_CERT_UNTRUSTED: { status: 401, message: 'The client certificate was not accepted: {reason}', messageZh: '客户端证书未通过校验：{reason}' },
  GS_ERR_AUTH_CERT_NOT_USER: { status: 401, message: 'The client certificate belongs to a {subjectType}, not to a user account; certificate login is for people', messageZh: '该客户端证书属于{subjectType}而非用户账号，证书登录只适用于人员' },
  GS_ERR_AUTH_SESSION_CERT_MISMATCH: { status: 401, message: 'This session was opened with a client certificate that this connection does not present; log in again', messageZh: '本会话以客户端证书登录，但当前连接未出示该证书，请重新登录' },

  // configuration and start-up
  GS_ERR_CONFIG_INVALID: { status: 500, message: 'Invalid setting {key}: {reason}', messageZh: '配置项 {key} 不合法：{reason}' },
  GS_ERR_CONFIG_FILE: { status: 500, message: 'Cannot read config file {path}: {reason}', messageZh: '无法读取配置文件 {path}：{reason}' },
  GS_ERR_SERVER_PORT_IN_USE: { status: 500, message: 'Port {port} on {host} is already in use', messageZh: '{host} 的端口 {port} 已被占用' },
  GS_ERR_SERVER_LISTEN: { status: 500, message: 'Cannot listen on {host}:{port}: {reason}', messageZh: '无法监听 {host}:{port}：{reason}' },

  // database
  GS_ERR_DB_UNAVAILABLE: { status: 503, message: 'The database is unreachable: {reason}', messageZh: '无法连接数据库：{reason}' },
  GS_ERR_DB_SCHEMA_NEWER: { status: 500, message: 'The database schema (version {dbVersion}) is newer than this govshare (version {codeVersion}); upgrade govshare', messageZh: '数据库结构版本 {dbVersion} 高于程序支持的版本 {codeVersion}，请升级 govshare' },
  GS_ERR_DB_SCHEMA_OUTDATED: { status: 503, message: 'The database schema (version {dbVersion}) is older than this govshare (version {codeVersion}); run govshare migrate', messageZh: '数据库结构版本 {dbVersion} 低于程序版本 {codeVersion}，请执行 govshare migrate' },
  GS_ERR_DB_MIGRATION_CHANGED: { status: 500, message: 'Migration {version} was changed after it was applied (checksum mismatch)', messageZh: '迁移脚本 {version} 在执行后被修改（校验和不一致）' },
  GS_ERR_DB_MIGRATION_FAILED: { status: 500, message: 'Migration {version} failed and was rolled back: {reason}', messageZh: '迁移脚本 {version} 执行失败并已回滚：{reason}' },
  GS_ERR_DB_NOT_INITIALISED: { status: 503, message: 'The platform in {location} is not initialised; run govshare init, or start govshare serve once', messageZh: '{location} 中的平台尚未初始化，请执行 govshare init 或先启动一次 govshare serve' },
  GS_ERR_DB_DATA_DIR_LOCKED: { status: 409, message: 'The data directory {dataDir} is in use by process {pid}', messageZh: '数据目录 {dataDir} 正被进程 {pid} 使用' },
  GS_ERR_DB_DATA_DIR: { status: 500, message: 'Cannot use data directory {dataDir}: {reason}', messageZh: '无法使用数据目录 {dataDir}：{reason}' },
  GS_ERR_ADMIN_SOCKET: { status: 503, message: 'Cannot reach the running server over its admin socket {path}: {reason}', messageZh: '无法通过管理套接字 {path} 连接正在运行的服务：{reason}' },

  // keys
  GS_ERR_KEYS_MASTER_KEY_INVALID: { status: 500, message: 'The master key cannot be used: {reason}', messageZh: '主密钥不可用：{reason}' },
  GS_ERR_KEYS_WRONG_MASTER_KEY: { status: 500, message: 'The master key given ({given}) is not the one this platform was initialised with ({expected}); every server and admin command of one platform needs the same master key: the same key file, or the same passphrase', messageZh: '所给主密钥（{given}）与平台初始化时使用的（{expected}）不一致；同一平台的所有服务进程和管理命令须使用同一主密钥：同一个密钥文件，或同一个口令' },
  GS_ERR_KEYS_MASTER_KEY_MISSING: { status: 500, message: 'This needs the platform master key ({context}); give the one the servers use: GOVSHARE_MASTER_KEY_FILE, or their passphrase in GOVSHARE_MASTER_PASSPHRASE_FILE or GOVSHARE_MASTER_PASSPHRASE', messageZh: '此操作需要平台主密钥（{context}），请提供服务进程使用的主密钥：GOVSHARE_MASTER_KEY_FILE，或通过 GOVSHARE_MASTER_PASSPHRASE_FILE 或 GOVSHARE_MASTER_PASSPHRASE 提供其口令' },
  GS_ERR_KEYS_PASSPHRASE_WEAK: { status: 500, message: 'The master key passphrase ({source}) is too weak: {reason}; choose a longer one, e.g. five or more random words', messageZh: '主密钥口令（{source}）强度不足：{reason}；请换用更长的口令，例如五个以上随机词语' },
  GS_ERR_KEYS_UNSEAL: { status: 500, message: 'Cannot decrypt the {context} secret: {reason}', messageZh: '无法解密 {context}：{reason}' },

  // audit trail
  GS_ERR_AUDIT_RANGE_INVALID: { status: 400, message: 'The time range is empty: from ({from}) must be before to ({to})', messageZh: '时间范围为空：起始时间（{from}）必须早于结束时间（{to}）' },
  GS_ERR_AUDIT_CHAIN_BROKEN: { status: 409, message: 'The audit trail fails verification at sequence {seq}: {problem}', messageZh: '审计日志校验失败，首个异常序号 {seq}：{problem}' },
  GS_ERR_AUDIT_EXPORT_FILE: { status: 400, message: 'Cannot write the audit export to {path}: {reason}', messageZh: '无法将审计日志导出到 {path}：{reason}' },
  GS_ERR_AUDIT_EXPORT_TOO_LARGE: { status: 400, message: 'More than {max} events match; narrow the filters (e.g. the time range) and export in parts', messageZh: '匹配的事件超过 {max} 条，请缩小筛选范围（如时间范围）后分批导出' },
  GS_ERR_AUDIT_RETENTION: { status: 400, message: 'Audit events must be kept at least {days} days: the cut-off {before} is too recent; the latest cut-off allowed now is {latest}', messageZh: '审计日志至少保存 {days} 天：截止时间 {before} 过近，当前允许的最晚截止时间为 {latest}' },
  GS_ERR_AUDIT_ARCHIVE_FILE: { status: 400, message: 'Cannot use the audit archive file {path}: {reason}', messageZh: '无法使用审计归档文件 {path}：{reason}' },
  GS_ERR_AUDIT_ARCHIVE_CONFLICT: { status: 409, message: 'Another archive of the audit trail was recorded meanwhile (it now ends at sequence {lastSeq}); the file {path} was removed, run the archive again', messageZh: '期间已有另一次审计日志归档（现已归档至序号 {lastSeq}），文件 {path} 已删除，请重新执行归档' },

  // backup and restore
  GS_ERR_BACKUP_KEY_MISSING: { status: 400, message: 'No backup key: set GOVSHARE_BACKUP_KEY_FILE to a file holding 32 random bytes in base64, owner-only (openssl rand -base64 32 > backup.key && chmod 600 backup.key), kept apart from the master key', messageZh: '未配置备份密钥：请将 GOVSHARE_BACKUP_KEY_FILE 设为保存 32 字节随机数（base64）且仅属主可读的文件（openssl rand -base64 32 > backup.key && chmod 600 backup.key），并与主密钥分开保管' },
  GS_ERR_BACKUP_KEY_INVALID: { status: 400, message: 'The backup key cannot be used: {reason}', messageZh: '备份密钥不可用：{reason}' },
  GS_ERR_BACKUP_WRONG_KEY: { status: 400, message: 'The backup {file} was made with backup key {fileKeyId}, not with the given key {keyId}', messageZh: '备份 {file} 使用的备份密钥为 {fileKeyId}，而不是所给的密钥 {keyId}' },
  GS_ERR_BACKUP_CORRUPT: { status: 400, message: 'The backup {file} is damaged: {reason}', messageZh: '备份 {file} 已损坏：{reason}' },
  GS_ERR_BACKUP_FILE: { status: 400, message: 'Cannot use backup file {file}: {reason}', messageZh: '无法使用备份文件 {file}：{reason}' },
  GS_ERR_BACKUP_SCHEMA_NEWER: { status: 400, message: 'The backup has schema version {backupVersion}, newer than this govshare (version {codeVersion}); restore it with a newer govshare', messageZh: '备份的数据库结构版本 {backupVersion} 高于本程序的版本 {codeVersion}，请使用更新的 govshare 恢复' },
  GS_ERR_BACKUP_TARGET_NOT_EMPTY: { status: 409, message: 'The restore target {location} is not empty ({reason}); restore into an empty one, or use --force to replace its data', messageZh: '恢复目标 {location} 不为空（{reason}），请恢复到空目标，或使用 --force 替换其数据' },
  GS_ERR_BACKUP_SAME_AS_MASTER_KEY: { status: 400, message: 'The backup key is the master key; a backup must not be readable with the master key alone, so use a separate key', messageZh: '备份密钥与主密钥相同；备份不得仅凭主密钥即可读取，请使用单独的备份密钥' },
  GS_ERR_BACKUP_TARGET_INVALID: { status: 400, message: 'Cannot use backup target {target}: {reason}', messageZh: '无法使用备份目标 {target}：{reason}' },
  GS_ERR_BACKUP_STORE_CREDENTIALS: { status: 400, message: 'No usable object-store credentials for backups: {reason}', messageZh: '没有可用的对象存储备份凭据：{reason}' },
  GS_ERR_BACKUP_STORE_REFUSED: { status: 403, message: 'The object store {endpoint} refused access to {location}: {reason}', messageZh: '对象存储 {endpoint} 拒绝访问 {location}：{reason}' },
  GS_ERR_BACKUP_STORE_FAILED: { status: 502, message: 'The object store {endpoint} failed for {location}: {reason}', messageZh: '对象存储 {endpoint} 处理 {location} 失败：{reason}' },

  // regions
  GS_ERR_REGION_NOT_FOUND: { status: 404, message: 'No region with code {code}', messageZh: '行政区划代码 {code} 不存在' },

  // agencies
  GS_ERR_AGENCY_NOT_FOUND: { status: 404, message: 'No agency {id}', messageZh: '单位 {id} 不存在' },
  GS_ERR_AGENCY_CODE_TAKEN: { status: 409, message: 'Agency code {code} is already used', messageZh: '单位编码 {code} 已被使用' },
  GS_ERR_AGENCY_USCC_INVALID: { status: 400, message: 'USCC {uscc} is not valid: {reason}', messageZh: '统一社会信用代码 {uscc} 不合法：{reasonZh}' },
  GS_ERR_AGENCY_USCC_TAKEN: { status: 409, message: 'USCC {uscc} already belongs to agency {code}', messageZh: '统一社会信用代码 {uscc} 已属于单位 {code}' },
  GS_ERR_AGENCY_REGION_LEVEL: { status: 400, message: 'Region {regionCode} is a {regionLevel} region but the agency level is {level}', messageZh: '行政区划 {regionCode} 为{regionLevelZh}，与单位层级（{levelZh}）不一致' },
  GS_ERR_AGENCY_PARENT_INVALID: { status: 400, message: 'Parent agency {parentId} cannot be used: {reason}', messageZh: '上级单位 {parentId} 不可用：{reasonZh}' },
  GS_ERR_AGENCY_INACTIVE: { status: 409, message: 'Agency {id} is deactivated', messageZh: '单位 {id} 已停用' },
  GS_ERR_AGENCY_HAS_ACTIVE_CHILDREN: { status: 409, message: 'Agency {id} still has {count} active subordinate agencies', messageZh: '单位 {id} 仍有 {count} 个启用的下级单位' },
  GS_ERR_AGENCY_LANGUAGE_TAG: { status: 400, message: 'Name language tag {tag} is not a valid BCP 47 tag (Chinese goes in nameZh)', messageZh: '名称语言标记 {tag} 不是合法的 BCP 47 标记（中文名称填写在 nameZh）' },

  // working-day calendar (工作日历)
  GS_ERR_CALENDAR_DATE_INVALID: { status: 400, message: '{field} {value} is not a usable date: {reason}', messageZh: '{field} 的值 {value} 不是可用的日期：{reasonZh}' },
  GS_ERR_CALENDAR_YEAR_INVALID: { status: 400, message: 'Year {year} is outside the calendar ({min}–{max})', messageZh: '年份 {year} 超出日历范围（{min}–{max}）' },
  GS_ERR_CALENDAR_DAYS_INVALID: { status: 400, message: 'The number of working days {days} is invalid: it must be a whole number from 0 to {max}', messageZh: '工作日天数 {days} 不合法：应为 0 到 {max} 之间的整数' },
  GS_ERR_CALENDAR_RANGE_INVALID: { status: 400, message: 'The end date {to} is before the start date {from}', messageZh: '结束日期 {to} 早于起始日期 {from}' },
  GS_ERR_CALENDAR_DAY_NOT_FOUND: { status: 404, message: 'The calendar has no entry for {date}; it is an ordinary day (weekends off)', messageZh: '日历中没有 {date} 的条目，该日按普通日期处理（周末休息）' },
  GS_ERR_CALENDAR_ENTRY_INVALID: { status: 400, message: 'Calendar day {date} cannot be set ({field}): {reason}', messageZh: '无法设置日历日期 {date}（{field}）：{reasonZh}' },
  GS_ERR_CALENDAR_IMPORT_INVALID: { status: 400, message: 'The arrangement for {year} was not imported and nothing was changed: {count} bad entries; the first is entry {index} ({date}, {field}): {reason}', messageZh: '{year} 年的放假安排未导入，日历未作任何改动：共有 {count} 个错误条目，第一个为第 {index} 条（{date}，{field}）：{reasonZh}' },
  GS_ERR_CALENDAR_FILE: { status: 400, message: 'Cannot use the calendar file {path}: {reason}', messageZh: '无法使用日历文件 {path}：{reasonZh}' },

  // business systems
  GS_ERR_SYSTEM_NOT_FOUND: { status: 404, message: 'No business system {id}', messageZh: '接入系统 {id} 不存在' },
  GS_ERR_SYSTEM_NAME_TAKEN: { status: 409, message: 'Agency already has a business system named {name}', messageZh: '本单位已有名为 {name} 的接入系统' },
  GS_ERR_SYSTEM_STATE: { status: 409, message: 'Business system {id} is {status}; cannot {action}', messageZh: '接入系统 {id} 状态为 {status}，不能{action}' },

  // agency nodes (前置机)
  GS_ERR_NODE_NOT_FOUND: { status: 404, message: 'No node {id}', messageZh: '前置机 {id} 不存在' },
  GS_ERR_NODE_CODE_INVALID: { status: 400, message: 'Node code {code} is not valid: use letters, digits, ".", "_" and "-", 2–64 characters, starting with a letter or digit', messageZh: '前置机编码 {code} 不合法：只能包含字母、数字、“.”“_”“-”，2–64 个字符，以字母或数字开头' },
  GS_ERR_NODE_CODE_TAKEN: { status: 409, message: 'Node code {code} is already used (codes are compared without regard to case)', messageZh: '前置机编码 {code} 已被使用（编码不区分大小写）' },
  GS_ERR_NODE_STATE: { status: 409, message: 'Node {id} is {status}; cannot {action}', messageZh: '前置机 {id} 状态为 {status}，不能{action}' },

  // PKI: the platform CA, certificates, the exchange port's mutual TLS
  GS_ERR_PKI_CA_MISSING: { status: 503, message: 'The platform CA does not exist yet; run govshare init or start govshare serve once', messageZh: '平台 CA 尚未创建，请执行 govshare init 或先启动一次 govshare serve' },
  GS_ERR_PKI_CSR_INVALID: { status: 400, message: 'The certificate signing request cannot be read: {reason}', messageZh: '证书签名请求（CSR）无法解析：{reason}' },
  GS_ERR_PKI_CSR_SIGNATURE: { status: 400, message: 'The signature of the certificate signing request does not verify (altered, or not signed with its own key)', messageZh: '证书签名请求的签名校验失败（内容被改动，或不是用其自身私钥签名）' },
  GS_ERR_PKI_CSR_KEY_TYPE: { status: 400, message: 'The key of the certificate signing request is {keyType}; use ECDSA P-256 or RSA of at least 2048 bits', messageZh: '证书签名请求的密钥为 {keyType}，只接受 ECDSA P-256 或不少于 2048 位的 RSA 密钥' },
  GS_ERR_PKI_CSR_SUBJECT: { status: 400, message: 'The subject of the certificate signing request ({subject}) does not name the {subjectType}: its CN must be {expected}', messageZh: '证书签名请求的主题（{subject}）与申请对象不符：CN 必须为 {expected}' },
  GS_ERR_PKI_CERT_NOT_FOUND: { status: 404, message: 'No certificate {id}', messageZh: '证书 {id} 不存在' },
  GS_ERR_PKI_CERT_STATE: { status: 409, message: 'Certificate {id} is {status}; cannot {action}', messageZh: '证书 {id} 状态为 {status}，不能{action}' },
  GS_ERR_PKI_KEY_GONE: { status: 410, message: 'The private key of certificate {id} is not kept: {reason}', messageZh: '证书 {id} 的私钥已不在平台保存：{reason}' },
  GS_ERR_PKI_SUBJECT_INACTIVE: { status: 409, message: 'The {subjectType} {subjectId} is not active ({reason}); no certificate is issued for it', messageZh: '{subjectType} {subjectId} 未启用（{reason}），不能为其签发证书' },
  GS_ERR_PKI_CERT_UNKNOWN: { status: 403, message: 'The client certificate (serial {serialNumber}) was not issued by this platform to a business system, node or user', messageZh: '客户端证书（序列号 {serialNumber}）不是本平台签发给业务系统、前置机或用户的证书' },
  GS_ERR_PKI_CERT_REVOKED: { status: 403, message: 'The client certificate (serial {serialNumber}) was revoked on {revokedAt} ({reason})', messageZh: '客户端证书（序列号 {serialNumber}）已于 {revokedAt} 吊销（{reason}）' },
  GS_ERR_PKI_CERT_EXPIRED: { status: 403, message: 'The client certificate (serial {serialNumber}) expired on {notAfter}', messageZh: '客户端证书（序列号 {serialNumber}）已于 {notAfter} 过期' },
  GS_ERR_PKI_IDENTITY_INACTIVE: { status: 403, message: 'The client certificate belongs to {subjectType} {subjectId}, which is deactivated ({reason})', messageZh: '客户端证书所属的 {subjectType} {subjectId} 已停用（{reason}）' },

  // catalog (目录系统)
  GS_ERR_CATALOG_ENTRY_NOT_FOUND: { status: 404, message: 'No catalog entry {id}', messageZh: '目录条目 {id} 不存在' },
  GS_ERR_CATALOG_VERSION_NOT_FOUND: { status: 404, message: 'Catalog entry {id} has no version {version} that you may read', messageZh: '目录条目 {id} 没有您可查看的第 {version} 版' },
  GS_ERR_CATALOG_CONTENT_INVALID: { status: 400, message: 'The catalog entry is invalid: {summary}', messageZh: '目录条目不合法：{summaryZh}' },
  GS_ERR_CATALOG_NOT_CONFORMANT: { status: 400, message: 'Version {version} of catalog entry {id} has {count} blocking conformance findings: {summary}', messageZh: '目录条目 {id} 第 {version} 版有 {count} 项不符合标准的错误：{summaryZh}' },
  GS_ERR_CATALOG_STATE: { status: 409, message: 'Catalog entry {id} is {state}; cannot {action}', messageZh: '目录条目 {id} 当前{stateZh}，不能{actionZh}' },
  GS_ERR_CATALOG_PROVIDER_INVALID: { status: 400, message: 'Provider agency {agencyId} cannot be used: {reason}', messageZh: '提供方单位 {agencyId} 不可用：{reasonZh}' },
  GS_ERR_CATALOG_LEGAL_BASIS_UNCONFIRMED: { status: 400, message: 'Catalog entry {id} is not shared (share type none): publish it with confirmLegalBasis true once you have checked its legal basis ({law} {article})', messageZh: '目录条目 {id} 为不予共享类：请核定其依据（{law} {article}）后以 confirmLegalBasis 为 true 发布' },
  GS_ERR_CATALOG_CLASSIFICATION_FROZEN: { status: 400, message: 'The classification of a published entry cannot change: its resource code {code} is fixed; withdraw it and catalog a new entry instead', messageZh: '已发布条目的分类不能修改：资源代码 {code} 已固定；如需改分类，请撤销后重新编目' },
  GS_ERR_CATALOG_CODES_EXHAUSTED: { status: 409, message: 'Classification {classification} has used all 999999 sequence numbers', messageZh: '分类 {classification} 的 999999 个顺序码已用尽' },
  GS_ERR_CATALOG_EXTENSION_NOT_FOUND: { status: 404, message: 'No extension field {key}', messageZh: '扩展字段 {key} 不存在' },
  GS_ERR_CATALOG_EXTENSION_TAKEN: { status: 409, message: 'Extension field {key} is already declared', messageZh: '扩展字段 {key} 已存在' },
  GS_ERR_CATALOG_IMPORT_FILE_UNREADABLE: { status: 400, message: 'The import file cannot be read: {reason}', messageZh: '导入文件无法读取：{reasonZh}' },
  GS_ERR_CATALOG_IMPORT_OPTION_INVALID: { status: 400, message: 'The import cannot run so: {reason}', messageZh: '导入选项不正确：{reasonZh}' },
  GS_ERR_CATALOG_EXPORT_FORMAT: { status: 400, message: 'Unknown export format {format}; use xlsx, json or dcat', messageZh: '未知的导出格式 {format}，请使用 xlsx、json 或 dcat' },
  GS_ERR_CATALOG_EXTENSION_INVALID: { status: 400, message: 'Extension field {key} cannot be declared so: {reason}', messageZh: '扩展字段 {key} 定义不合法：{reasonZh}' },

  // demand catalog (需求目录)
  GS_ERR_DEMAND_NOT_FOUND: { status: 404, message: 'No demand {id}', messageZh: '需求 {id} 不存在' },
  GS_ERR_DEMAND_STATE: { status: 409, message: 'Demand {id} is {status}; cannot {action}', messageZh: '需求 {id} 当前{statusZh}，不能{actionZh}' },
  GS_ERR_DEMAND_AGENCY_INVALID: { status: 400, message: 'Agency {agencyId} cannot be used for a demand: {reason}', messageZh: '单位 {agencyId} 不能用于该需求：{reasonZh}' },
  GS_ERR_DEMAND_ANSWER_INVALID: { status: 400, message: 'The answer is invalid: {reason}', messageZh: '答复不合法：{reasonZh}' },

  // share requests and grants (申请共享, 授权)
  GS_ERR_SHARE_REQUEST_NOT_FOUND: { status: 404, message: 'No share request {id}', messageZh: '共享申请 {id} 不存在' },
  GS_ERR_SHARE_REQUEST_INVALID: { status: 400, message: 'The share request is invalid: {reason}', messageZh: '共享申请不合法：{reasonZh}' },
  GS_ERR_SHARE_REQUEST_NOT_SHAREABLE: { status: 400, message: 'Resource {resourceCode} is not shared (legal basis: {legalBasis}); it cannot be requested. Post the need in the demand catalog instead (POST /api/v1/demands)', messageZh: '资源 {resourceCode} 为不予共享类（依据：{legalBasis}），不能申请；如确有需要，请在需求目录中提出需求' },
  GS_ERR_SHARE_REQUEST_ITEMS_UNKNOWN: { status: 400, message: 'Resource {resourceCode} has no data item {items}', messageZh: '资源 {resourceCode} 没有信息项 {items}' },
  GS_ERR_SHARE_REQUEST_AGREEMENT_REQUIRED: { status: 400, message: 'The sensitive data items {items} need a signed security agreement attached (attachment kind securityAgreement)', messageZh: '所申请的信息项 {items} 涉及敏感信息，须附已签署的安全保密协议（附件类型 securityAgreement）' },
  GS_ERR_SHARE_REQUEST_STATE: { status: 409, message: 'Share request {number} is {status}; cannot {action}', messageZh: '共享申请 {number} 当前为“{statusZh}”，不能{actionZh}' },
  GS_ERR_SHARE_REQUEST_PENDING: { status: 409, message: 'Share request {number} for the same system, resource and method is still pending', messageZh: '同一接入系统、资源和共享方式的共享申请 {number} 尚在办理中' },
  GS_ERR_SHARE_REQUEST_TERMS_INVALID: { status: 400, message: 'The grant terms are invalid: {reason}', messageZh: '授权条件不合法：{reasonZh}' },
  GS_ERR_SHARE_REQUEST_FILE: { status: 400, message: 'Cannot use the file {path}: {reason}', messageZh: '无法使用文件 {path}：{reasonZh}' },
  GS_ERR_GRANT_NOT_FOUND: { status: 404, message: 'No grant {id}', messageZh: '授权 {id} 不存在' },
  GS_ERR_GRANT_STATE: { status: 409, message: 'Grant {id} is {status}; cannot {action}', messageZh: '授权 {id} 当前为“{statusZh}”，不能{actionZh}' },
  // blob store (files by their SHA-256: attachments, file resources)
  GS_ERR_BLOB_NOT_FOUND: { status: 404, message: 'No blob {sha256} in the blob store {location}', messageZh: '文件存储 {location} 中没有内容 {sha256}' },
  GS_ERR_BLOB_TOO_LARGE: { status: 413, message: 'The content is larger than the limit of {limit} bytes; nothing was stored', messageZh: '内容超过 {limit} 字节的上限，未保存' },
  GS_ERR_BLOB_CORRUPT: { status: 500, message: 'Blob {sha256} in the blob store {location} is damaged: its content no longer has that SHA-256 ({reason}); restore it from a backup', messageZh: '文件存储 {location} 中的内容 {sha256} 已损坏：其内容的 SHA-256 已不一致（{reason}），请从备份恢复' },
  GS_ERR_BLOB_STORE_FAILED: { status: 502, message: 'The blob store {location} failed: {reason}', messageZh: '文件存储 {location} 出错：{reason}' },
  GS_ERR_BLOB_STORE_CREDENTIALS: { status: 500, message: 'No usable object-store credentials for the blob store: {reason}', messageZh: '没有可用的文件存储（对象存储）凭据：{reason}' },

  // exchange: shared tables and ingest
  GS_ERR_DATA_TABLE_NOT_FOUND: { status: 404, message: 'Resource {resourceCode} has no shared table (it is not a published table resource)', messageZh: '资源 {resourceCode} 没有共享库表（不是已发布的库表类资源）' },
  GS_ERR_DATA_TABLE_INCOMPATIBLE: { status: 409, message: 'Version {version} of {resourceCode} changes its shared table incompatibly ({summary}); retire the table first (govshare data retire-table, docs/exchange.md), then publish', messageZh: '资源 {resourceCode} 的第 {version} 版与其共享库表不兼容（{summary}），须先执行 govshare data retire-table（见 docs/exchange.md）再发布' },
  GS_ERR_DATA_TABLE_RETIRED: { status: 409, message: 'The shared table of {resourceCode} was retired for a migration; publish the new version to create its new table', messageZh: '资源 {resourceCode} 的共享库表已因迁移停用，请发布新版本以创建新表' },
  GS_ERR_DATA_RESOURCE_WITHDRAWN: { status: 409, message: 'Resource {resourceCode} was withdrawn from the catalog; no more data is loaded into it', messageZh: '资源 {resourceCode} 已从目录撤销，不再接收数据' },
  GS_ERR_DATA_BATCH_KEY_REUSED: { status: 409, message: 'Idempotency key {idempotencyKey} was used for a different batch of this resource; use a new key for new data', messageZh: '幂等键 {idempotencyKey} 已用于本资源的另一批数据，新数据请使用新的键' },
  GS_ERR_DATA_BATCH_REJECTED: { status: 422, message: '{invalid} of {rows} rows are invalid, so nothing was loaded (policy reject); details.problems lists each row, item and rule', messageZh: '{rows} 行中有 {invalid} 行不合规，整批未装载（拒绝策略）；details.problems 列出每行、信息项和规则' },
  GS_ERR_DATA_FILE_UNREADABLE: { status: 400, message: 'The data file cannot be read at {location}: {reason}; nothing was loaded', messageZh: '数据文件在 {location} 处无法读取：{reasonZh}；未装载任何数据' },
  GS_ERR_DATA_FILE_TOO_LARGE: { status: 413, message: 'The data file is larger than the limit of {limit} bytes (GOVSHARE_DATA_LOAD_MAX_BYTES); nothing was loaded', messageZh: '数据文件超过 {limit} 字节的上限（GOVSHARE_DATA_LOAD_MAX_BYTES），未装载任何数据' },
  GS_ERR_DATA_ITEMS_NOT_GRANTED: { status: 403, message: 'Items {items} of {resourceCode} are not granted (grant {grantId}); ask only for the granted items', messageZh: '资源 {resourceCode} 的信息项 {items} 不在授权范围内（授权 {grantId}），只能使用已授权的信息项' },
  GS_ERR_DATA_FILTER_INVALID: { status: 400, message: 'The filter on item {item} is invalid: {reason}', messageZh: '信息项 {item} 的查询条件不合法：{reasonZh}' },
  GS_ERR_DATA_QUOTA_EXCEEDED: { status: 429, message: 'The {quota} quota of grant {grantId} ({limit}) is used up for {resourceCode}; try again in the next minute (ratePerMinute) or day (volumePerDay)', messageZh: '授权 {grantId} 对资源 {resourceCode} 的 {quota} 配额（{limit}）已用尽，请在下一分钟（ratePerMinute）或次日（volumePerDay）再试' },
  GS_ERR_EXCHANGE_CLIENT: { status: 502, message: 'The exchange port at {url} could not be used: {reason}', messageZh: '无法使用交换端口 {url}：{reason}' },
  GS_ERR_EXCHANGE_SYSTEM_REQUIRED: { status: 403, message: 'Only a business system certificate may use this route (this certificate is a {subjectType} certificate)', messageZh: '只有业务系统证书可以调用此接口（当前证书类型为 {subjectType}）' },
  GS_ERR_PUSH_SUBSCRIPTION_NOT_FOUND: { status: 404, message: 'System {systemId} has no subscription to {resourceCode} yet; it comes into being with the first call under a push grant in force', messageZh: '业务系统 {systemId} 尚无资源 {resourceCode} 的订阅；在推送授权有效期内首次调用时建立' },
  GS_ERR_PUSH_SUBSCRIPTION_UNKNOWN: { status: 404, message: 'No subscription {id}', messageZh: '订阅 {id} 不存在' },
  GS_ERR_PUSH_WEBHOOK_MODE: { status: 409, message: 'The subscription to {resourceCode} is delivered to the webhook {url}; remove the webhook (DELETE …/subscription/webhook) to fetch changes yourself', messageZh: '资源 {resourceCode} 的订阅由平台推送至 Webhook {url}；如需自行拉取变更，请先删除该 Webhook' },
  GS_ERR_PUSH_ACK_STALE: { status: 409, message: 'The acknowledgement is for generation {generation} of the subscription to {resourceCode}, which has started again from zero (generation {current}); fetch again and apply the batch marked reset', messageZh: '该确认针对资源 {resourceCode} 订阅的第 {generation} 代，订阅已从零重新开始（第 {current} 代）；请重新获取并按 reset 标记应用批次' },
  GS_ERR_PUSH_ACK_INVALID: { status: 409, message: 'Cursor {cursor} of the subscription to {resourceCode} was never delivered (delivered up to {deliveredUntil}); acknowledge the cursor of a batch you received', messageZh: '资源 {resourceCode} 订阅的游标 {cursor} 从未下发（已下发至 {deliveredUntil}），只能确认已收到批次的游标' },
  GS_ERR_PUSH_WEBHOOK_INVALID: { status: 400, message: 'The push webhook cannot be used: {reason}', messageZh: '推送 Webhook 无法使用：{reasonZh}' },
  GS_ERR_EXCHANGE_VERIFY_FILE_TOO_LARGE: { status: 413, message: 'The verification file is larger than the limit of {limit} bytes (GOVSHARE_VERIFY_BATCH_MAX_BYTES); no job was created', messageZh: '核验文件超过 {limit} 字节的上限（GOVSHARE_VERIFY_BATCH_MAX_BYTES），未创建核验任务' },
  GS_ERR_EXCHANGE_VERIFY_FILE_INVALID: { status: 422, message: 'The verification file cannot be used: {summary}; no job was created (details.problems lists each row and column)', messageZh: '核验文件不可用：{summaryZh}；未创建核验任务（details.problems 列出每个行号和列）' },
  GS_ERR_EXCHANGE_VERIFY_JOB_NOT_FOUND: { status: 404, message: 'No verification job {id}', messageZh: '核验任务 {id} 不存在' },
  GS_ERR_EXCHANGE_VERIFY_JOB_OTHER_SYSTEM: { status: 403, message: 'Verification job {id} was submitted by another business system; only the system that submitted it may read it', messageZh: '核验任务 {id} 由其他业务系统提交，只有提交该任务的业务系统可以查看' },
  GS_ERR_EXCHANGE_VERIFY_JOB_NOT_READY: { status: 409, message: 'Verification job {id} is {state}; its result exists once it has succeeded', messageZh: '核验任务 {id} 当前状态为 {state}，任务成功后才有结果文件' },
  GS_ERR_EXCHANGE_VERIFY_JOB_INTERRUPTED: { status: 500, message: 'Verification job {id} was interrupted {attempts} times (its server stopped while running it) and is given up; submit the file again', messageZh: '核验任务 {id} 已被中断 {attempts} 次（运行时服务进程停止），不再重试，请重新提交文件' },
  GS_ERR_EXCHANGE_VERIFY_JOB_FAILED: { status: 500, message: 'Verification job {id} failed: {reason}', messageZh: '核验任务 {id} 执行失败：{reason}' },
  GS_ERR_DATA_DECRYPT: { status: 500, message: 'A stored value cannot be decrypted: {reason}', messageZh: '存储的数据无法解密：{reason}' },

  // attachments (附件: e.g. the signed security agreement of a share request)
  GS_ERR_ATTACHMENT_NOT_FOUND: { status: 404, message: 'No attachment {id}', messageZh: '附件 {id} 不存在' },
  GS_ERR_ATTACHMENT_TOO_LARGE: { status: 413, message: 'The attachment is larger than the limit of {limit} bytes (GOVSHARE_ATTACHMENT_MAX_BYTES); nothing was stored', messageZh: '附件超过 {limit} 字节的上限（GOVSHARE_ATTACHMENT_MAX_BYTES），未保存' },
  GS_ERR_ATTACHMENT_INVALID: { status: 400, message: 'The attachment cannot be accepted: {reason}', messageZh: '附件无法接收：{reasonZh}' },
  GS_ERR_ATTACHMENT_NOT_LINKABLE: { status: 400, message: 'Attachment {id} does not exist or was not uploaded by your agency; upload it first', messageZh: '附件 {id} 不存在或不是本单位上传的，请先上传' },
  // notifications: inbox, e-mail, webhooks, deliveries
  GS_ERR_NOTIFICATION_NOT_FOUND: { status: 404, message: 'No notification {id} in your inbox', messageZh: '您的收件箱中没有通知 {id}' },
  GS_ERR_NOTIFICATION_NOTICE_INVALID: { status: 500, message: 'The notice cannot be queued: {reason}', messageZh: '通知无法加入发送队列：{reasonZh}' },
  GS_ERR_NOTIFICATION_DELIVERY_NOT_FOUND: { status: 404, message: 'No notification delivery {id}', messageZh: '通知投递记录 {id} 不存在' },
  GS_ERR_NOTIFICATION_DELIVERY_STATE: { status: 409, message: 'Delivery {id} is {status}; cannot {action}', messageZh: '投递 {id} 当前{statusZh}，不能{actionZh}' },
  GS_ERR_WEBHOOK_NOT_FOUND: { status: 404, message: 'No webhook {id}', messageZh: 'Webhook {id} 不存在' },
  GS_ERR_WEBHOOK_URL_INVALID: { status: 400, message: 'The webhook URL cannot be used: {reason}', messageZh: 'Webhook 地址不可用：{reasonZh}' },
  GS_ERR_WEBHOOK_AGENCY_INVALID: { status: 400, message: 'Agency {agencyId} cannot have a webhook: {reason}', messageZh: '单位 {agencyId} 不能注册 Webhook：{reasonZh}' },
  GS_ERR_WEBHOOK_INACTIVE: { status: 409, message: 'Webhook {id} is deactivated; activate it first', messageZh: 'Webhook {id} 已停用，请先启用' },

  // users and roles
  GS_ERR_USER_NOT_FOUND: { status: 404, message: 'No user {id}', messageZh: '用户 {id} 不存在' },
  GS_ERR_USER_NAME_TAKEN: { status: 409, message: 'User name {username} is already used', messageZh: '用户名 {username} 已被使用' },
  GS_ERR_USER_ROLE_CONFLICT: { status: 400, message: 'Roles {roles} cannot be held by one account (separation of duties)', messageZh: '角色 {roles} 不能由同一账号兼任（三权分立）' },
  GS_ERR_USER_ROLE_NEEDS_AGENCY: { status: 400, message: 'Role {role} needs the account to belong to an agency', messageZh: '角色 {role} 要求账号属于某个单位' },
  GS_ERR_USER_SELF_ROLES: { status: 403, message: 'A security administrator cannot change their own roles', messageZh: '安全管理员不能修改自己的角色' },
  GS_ERR_USER_LAST_ADMIN: { status: 409, message: 'This would leave no active account with role {role}', messageZh: '操作后将没有任何启用的 {role} 账号' },

  // API tokens
  GS_ERR_TOKEN_NOT_FOUND: { status: 404, message: 'No API token {id}', messageZh: 'API 令牌 {id} 不存在' },
  GS_ERR_TOKEN_SCOPE: { status: 400, message: 'Scope {scope} is not a permission this account holds', messageZh: '作用域 {scope} 不是该账号拥有的权限' },
  GS_ERR_TOKEN_EXPIRY: { status: 400, message: 'Token expiry {expires} is invalid: {reason}', messageZh: '令牌有效期 {expires} 不合法：{reason}' },

  // grant check (授权校验): why the exchange refuses a business system's call for a resource
  GS_ERR_GRANT_NONE: { status: 403, message: 'Business system {systemId} holds no grant for resource {resource}; its agency must file a share request first', messageZh: '业务系统 {systemId} 没有资源 {resource} 的授权，请先由本单位提交共享申请' },
  GS_ERR_GRANT_METHOD: { status: 403, message: 'The grants of business system {systemId} for resource {resource} do not cover the method {method}', messageZh: '业务系统 {systemId} 对资源 {resource} 的授权不包括{methodZh}方式' },
  GS_ERR_GRANT_SUSPENDED: { status: 403, message: 'Grant {grantId} of business system {systemId} for resource {resource} is suspended by the provider', messageZh: '业务系统 {systemId} 对资源 {resource} 的授权 {grantId} 已被提供方暂停' },
  GS_ERR_GRANT_REVOKED: { status: 403, message: 'Grant {grantId} of business system {systemId} for resource {resource} was revoked', messageZh: '业务系统 {systemId} 对资源 {resource} 的授权 {grantId} 已被撤销' },
  GS_ERR_GRANT_EXPIRED: { status: 403, message: 'Grant {grantId} of business system {systemId} for resource {resource} has expired; its agency may request a renewal', messageZh: '业务系统 {systemId} 对资源 {resource} 的授权 {grantId} 已过期，可由本单位申请续期' },
  GS_ERR_GRANT_NOT_YET_VALID: { status: 403, message: 'Grant {grantId} of business system {systemId} for resource {resource} is not in force yet', messageZh: '业务系统 {systemId} 对资源 {resource} 的授权 {grantId} 尚未生效' },
  GS_ERR_GRANT_SYSTEM_INACTIVE: { status: 403, message: 'Business system {systemId} is not active; its grants cannot be used', messageZh: '业务系统 {systemId} 未启用或已停用，其授权不可使用' },
  GS_ERR_GRANT_RESOURCE_WITHDRAWN: { status: 403, message: 'Resource {resource} is withdrawn from the catalog; its grants cannot be used', messageZh: '资源 {resource} 已从目录撤销，其授权不可使用' },

  // everything else
  GS_ERR_SERVER_INTERNAL: { status: 500, message: 'Internal error (request {requestId}); the operator can find details in the log', messageZh: '内部错误（请求 {requestId}），运维人员可在日志中查看详情' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERRORS;

export type ErrorDetails = Readonly<Record<string, unknown>>;

/** `{key}` from params; in a Chinese template `{keyZh}` falls back to `{key}` when absent. */
function fill(template: string, params: ErrorDetails): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = params[key] ?? (key.endsWith('Zh') ? params[key.slice(0, -2)] : undefined);
    if (v === undefined) return whole;
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

/** An expected failure with a registered code. Anything else reaching the edge is a 500. */
export class GsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly params: ErrorDetails;
  readonly messageZh: string;
  /** Per-field problems: `[{ field, rule, message }]` for validation errors. */
  readonly fields: readonly FieldProblem[] | undefined;

  constructor(code: ErrorCode, params: ErrorDetails = {}, fields?: readonly FieldProblem[], options?: { cause?: unknown }) {
    const def: ErrorDefinition = ERRORS[code];
    super(fill(def.message, params), options);
    this.name = 'GsError';
    this.code = code;
    this.status = def.status;
    this.params = params;
    this.messageZh = fill(def.messageZh, params);
    this.fields = fields;
  }
}

export interface FieldProblem {
  /** Where: `body.uscc`, `query.limit`, `names.ug`, … */
  readonly field: string;
  /** The rule broken, e.g. `required`, `maxLength`, `checkCharacter`, `additionalProperties`. */
  readonly rule: string;
  readonly message: string;
  /** The same in Chinese, where the console shows it. */
  readonly messageZh?: string;
}

export function isGsError(e: unknown): e is GsError {
  return e instanceof GsError;
}

/** One invalid field as a GS_ERR_REQUEST_INVALID error. */
export function invalidField(field: string, rule: string, message: string): GsError {
  return new GsError('GS_ERR_REQUEST_INVALID', { summary: `${field}: ${message}` }, [{ field, rule, message }]);
}
