// Wire types of the admin API, hand-written in one place. Each names the Rust
// type (or handler, where the JSON is built with `serde_json::json!`) it
// mirrors, so a change on one side is found by grepping the other. Many
// admin answers are built ad hoc with `json!`, which `ts-rs` cannot derive
// from; see docs/ui.md.

// ---- session (api/admin/session.rs) ----------------------------------------

export type Role = 'admin' | 'viewer'; // secrets::admin::Role

/** `GET /session` (session::whoami). */
export interface Session {
  role: Role;
  actor: string;
}

// ---- status (api/admin/ops.rs::status) -------------------------------------

/** routing::health::HealthSnapshot */
export interface HealthSnapshot {
  open: boolean;
  consecutive_failures: number;
  cooldown_remaining_ms: number | null;
  ewma_latency_ms: number | null;
  last_error: string | null;
}

/** One element of `targets` in ops::status. */
export interface TargetHealth {
  provider: string;
  model: string;
  health: HealthSnapshot;
}

/** secrets::admin::TokenStorage (externally tagged enum). */
export type TokenStorage = 'keychain' | 'memory' | { file: string };

/** `GET /status` (ops::status). */
export interface Status {
  version: string;
  listen: string;
  endpoint: string;
  uptime_s: number;
  config_version: number;
  config_path: string | null;
  config_file_error: string | null;
  active_profile: string | null;
  profiles: unknown;
  providers: number;
  routes: number;
  admin_token_storage: TokenStorage;
  targets: TargetHealth[];
  /** `POST /pause`; absent on gateways that cannot pause. */
  paused?: boolean;
}

// ---- providers and keys (api/admin/ops.rs) ---------------------------------

export type KeyPresence = 'none' | 'present' | 'missing';

/** One element of `GET /providers` (ops::providers). */
export interface ProviderInfo {
  name: string;
  kind: string;
  base_url: string;
  api_key_ref: string | null;
  key: KeyPresence;
  key_error: string | null;
  timeout_s: number;
  rpm: number;
  tpm: number;
  targets: { model: string; health: HealthSnapshot }[];
  /** Configured `models`, when the gateway reports them. */
  models?: string[];
}

/** routing::probe::ProbeReport */
export interface ProbeReport {
  provider: string;
  base_url: string;
  reachable: boolean;
  auth_ok: boolean | null;
  status: number | null;
  latency_ms: number | null;
  models: string[];
  key: KeyPresence;
  error: string | null;
}

/** routing::probe::LocalServer */
export interface LocalServer {
  name: string;
  base_url: string;
  models: string[];
}

/** One element of `GET /keys` (ops::list_keys). */
export interface KeyInfo {
  name: string;
  present: boolean;
  ref: string;
}

// ---- config lifecycle (lifecycle/mod.rs, store/mod.rs) ---------------------

/** config::validate::Issue */
export interface Issue {
  severity?: 'error' | 'warning';
  path: string;
  line: number | null;
  column: number | null;
  message: string;
}

/** lifecycle::Validation */
export interface Validation {
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
}

/** lifecycle::diff::DiffSummary */
export interface DiffSummary {
  providers_added: string[];
  providers_removed: string[];
  providers_changed: string[];
  routes_added: string[];
  routes_removed: string[];
  routes_changed: string[];
  sections_changed: string[];
}

/** lifecycle::Preview */
export interface Preview {
  live_version: number;
  validation: Validation;
  unified: string;
  summary: DiffSummary;
  restart_required: string[];
}

/** store::Version */
export interface Version {
  id: number;
  created_at_ms: number;
  source: string;
  actor: string;
  message: string;
  hash: string;
  diff: string;
  summary: Partial<DiffSummary> | null;
  toml?: string;
}

/** lifecycle::Published */
export interface Published {
  version: Version;
  unchanged: boolean;
  restart_required: string[];
}

/** `GET /config/history` (config::history). */
export interface History {
  live_version: number;
  versions: Version[];
}

/** `GET /config` (config::get_config). */
export interface LiveConfig {
  version: Version;
  path: string | null;
  active_profile: string | null;
  profiles: unknown;
  file_error: string | null;
}

/** store::AuditEntry */
export interface AuditEntry {
  id: number;
  at_ms: number;
  actor: string;
  action: string;
  version_id: number | null;
  detail: unknown;
}

// ---- structured edits (api/admin: POST /config/draft) ----------------------

export type Strategy = 'priority' | 'weighted' | 'latency';

export interface ProviderSpec {
  name: string;
  kind: string;
  base_url: string;
  /** `keyring:NAME` | `env:VAR` | null (keyless). */
  api_key?: string | null;
  timeout_s?: number;
  rpm?: number;
  tpm?: number;
  models?: string[];
}

export interface TargetSpec {
  provider: string;
  model?: string | null;
  weight?: number | null;
}

export interface RouteSpec {
  model: string;
  strategy?: Strategy;
  cooldown_s?: number;
  retries?: number;
  targets: TargetSpec[];
}

/** One structured edit applied server-side (comments in the file survive); lifecycle::draft::Op. Route ops with `profile` edit `profiles.NAME.routes`. */
export type DraftOp =
  | { op: 'upsert_provider'; provider: ProviderSpec }
  | { op: 'remove_provider'; name: string }
  | { op: 'upsert_route'; route: RouteSpec; profile?: string | null }
  | { op: 'remove_route'; model: string; profile?: string | null };

/** `POST /config/draft` answer: the edited TOML and its preview (nothing published). */
export interface Draft {
  toml: string;
  preview: Preview;
}

/** `GET /routes`: the live routes. */
export interface RoutesInfo {
  routes: RouteSpec[];
  profiles: unknown;
  active_profile: string | null;
}

// ---- fallback test (POST /fallback-test) -----------------------------------

export interface AttemptInfo {
  provider: string;
  model: string;
  status: number | null;
  error: string | null;
  latency_ms: number | null;
}

export interface FallbackTestResult {
  status: number;
  provider: string | null;
  model: string | null;
  route_mode: string | null;
  attempts: AttemptInfo[];
  request_id: string | null;
  error?: string | null;
  /** The start of the answer's body (non-streaming). */
  body?: string;
}

// ---- telemetry (telemetry/query.rs, api/telemetry.rs) ----------------------

/** telemetry::query::Quantiles */
export interface Quantiles {
  p50: number;
  p95: number;
  p99: number;
}

/** telemetry::query::RouteModes */
export interface RouteModes {
  direct: number;
  provider_fallback: number;
  model_fallback: number;
}

/** telemetry::query::Bucket */
export interface Bucket {
  start_ms: number;
  requests: number;
  errors: number;
  errors_by_class: Record<string, number>;
  cancelled: number;
  latency_ms: Quantiles | null;
  ttft_ms: Quantiles | null;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  route_modes: RouteModes;
}

/** telemetry::query::Series */
export interface Series {
  from_ms: number;
  to_ms: number;
  bucket_ms: number;
  buckets: Bucket[];
}

/** telemetry::query::RequestRow */
export interface RequestRow {
  id: string;
  time_ms: number;
  client: string;
  endpoint: string;
  requested_model: string;
  provider: string | null;
  forwarded_model: string | null;
  route_mode: string | null;
  stream: boolean;
  attempts: number;
  status: number;
  error: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  overhead_ms: number;
  tokens_in: number | null;
  tokens_out: number | null;
  tokens_estimated: boolean;
  cost_usd: number | null;
  cancelled: boolean;
}

/** telemetry::query::RequestPage */
export interface RequestPage {
  items: RequestRow[];
  next_cursor: string | null;
}

/** telemetry::query::AttemptRow */
export interface AttemptRow {
  provider: string;
  model: string;
  status: number | null;
  error: string | null;
  latency_ms: number;
}

/** telemetry::query::RequestDetail */
export interface RequestDetail {
  request: RequestRow;
  attempts: AttemptRow[];
  request_body: string | null;
  response_body: string | null;
}

/** api::telemetry::SummaryBody (telemetry::query::Summary, flattened) */
export interface Summary {
  from_ms: number;
  to_ms: number;
  requests: number;
  requests_per_min: number;
  errors: number;
  error_rate: number;
  cancelled: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttft_p95_ms: number | null;
  fallbacks: number;
  tokens_in: number;
  tokens_out: number;
  cost_usd: number;
  dropped_events: number;
  queued_events: number;
}

/** telemetry::query::Outcome */
export type Outcome = 'ok' | 'error' | 'cancelled' | 'fallback';

// ---------------------------------------------------------------------------
// Replay and the synthetic model benchmark (gateway-core/src/tools/, docs/tools.md)
// ---------------------------------------------------------------------------

/** tools::call::CallResult: one call sent straight to a provider/model. */
export interface CallResult {
  request_id: string;
  provider: string;
  model: string;
  endpoint: string;
  stream: boolean;
  status: number;
  error: string | null;
  error_message: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  tokens_estimated: boolean;
  cost_usd: number | null;
  /** The response body (an excerpt). */
  response: string;
}

/** tools::replay::ReplaySpec: a logged request (`request_id`) or a pasted `body`. */
export interface ReplaySpec {
  request_id?: string;
  body?: unknown;
  endpoint?: string;
  provider: string;
  model?: string;
}

/** tools::replay::ReplayReport */
export interface ReplayReport {
  replay: CallResult;
  /** The logged row (absent for a pasted body). */
  original: RequestRow | null;
}

/** tools::modelbench::Protocol */
export type BenchProtocol = 'chat' | 'messages' | 'responses';

/** tools::modelbench::Target */
export interface BenchTarget {
  provider: string;
  model: string;
}

/** tools::modelbench::Spec */
export interface BenchSpec {
  targets: BenchTarget[];
  protocols: BenchProtocol[];
  stream: boolean[];
  requests: number;
  concurrency: number;
  max_tokens?: number;
  max_cost_usd: number;
}

/** tools::modelbench::Estimate */
export interface BenchEstimate {
  requests: number;
  tokens_in: number;
  tokens_out: number;
  /** Null when some target has no known price (see `unpriced`). */
  cost_usd: number | null;
  unpriced: string[];
  max_cost_usd: number;
}

/** tools::modelbench::Report: per target, protocol and stream mode. */
export interface BenchReport {
  provider: string;
  model: string;
  protocol: BenchProtocol;
  stream: boolean;
  sent: number;
  ok: number;
  /** 0..1 */
  success_rate: number;
  latency_ms: Quantiles | null;
  ttft_ms: Quantiles | null;
  tokens_per_s: number | null;
  /** Error class → count. */
  errors: Record<string, number>;
  cost_usd: number;
}

/** tools::modelbench::Run */
export interface BenchRun {
  id: number;
  started_ms: number;
  finished_ms: number;
  /** `ui`, `cli`, `api` or `schedule`. */
  source: string;
  spec: BenchSpec;
  reports: BenchReport[];
  spent_usd: number;
  stopped_by_cost_cap: boolean;
}

// ---------------------------------------------------------------------------
// Signed self-update (gateway-core/src/update/, api/admin/update.rs,
// docs/install.md). Check is open to viewers; apply and rollback need admin.
// ---------------------------------------------------------------------------

/** update::apply::Action (the `action` tag, flattened into the status). */
export type UpdateAction = 'up_to_date' | 'update' | 'downgrade' | 'below_minimum' | 'no_build';

/** update::apply::Installed: the binary an update would replace. */
export interface UpdateInstalled {
  path: string;
  version: string;
  /** Whether it is the running executable (false when the gateway updates another binary). */
  is_self: boolean;
}

/**
 * update::apply::Status: the verified manifest set against the installed
 * binary, with the action's fields beside its tag (`"action": "no_build",
 * "available": [...]`).
 */
export interface UpdateStatus {
  app?: 'aigw' | 'aigw-desktop';
  installed: UpdateInstalled;
  offered: string;
  /** Release date, RFC 3339. */
  date: string;
  notes_url: string | null;
  target: string;
  action: UpdateAction;
  /** `below_minimum`: the oldest version allowed to self-update to this release. */
  minimum?: string;
  /** `no_build`: the targets the release has. */
  available?: string[];
  manifest_url: string;
  /** The ed25519 public key (base64) the manifest was verified with. */
  key: string;
}

/** update::install::PreviousMeta: the version kept for rollback. */
export interface UpdatePrevious {
  version: string;
  replaced_by: string;
  /** RFC 3339 UTC. */
  saved_at: string;
  /** Where it was installed (and where rollback puts it back). */
  binary?: string;
  sha256?: string;
}

/** `GET /update/check` (api/admin/update.rs::check). */
export interface UpdateCheck {
  app?: 'aigw' | 'aigw-desktop';
  /** The running version. */
  version: string;
  /** False when the build has no manifest URL (see `message`). */
  configured: boolean;
  message?: string;
  /** True in the desktop app, which can restart itself (`restart_app`). */
  restart_supported?: boolean;
  previous?: UpdatePrevious | null;
  status?: UpdateStatus;
}

/** `POST /update/apply` body. */
export interface UpdateApplySpec {
  dry_run?: boolean;
  allow_downgrade?: boolean;
  manifest_url?: string;
}

/** update::apply::Outcome (tagged by `outcome`), as `POST /update/apply` answers it (update.rs::apply adds `restart_needed`). */
export type UpdateOutcome =
  | { outcome: 'up_to_date'; version: string }
  | { outcome: 'dry_run'; from: string; to: string; binary: string }
  | { outcome: 'updated'; from: string; to: string; binary: string; previous: string; restart_needed?: boolean };

/** update::apply::RolledBack, as `POST /update/rollback` answers it. */
export interface UpdateRolledBack {
  binary: string;
  restored: string;
  replaced: string;
  restart_needed?: boolean;
}
