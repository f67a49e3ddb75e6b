// Wire types of the admin API. Most are generated from the Rust types by
// ts-rs into ./generated (see docs/ui.md: `AIGW_WRITE_BINDINGS=1 cargo
// nextest run -p gateway-core bindings`; a test fails when they are stale)
// and re-exported here. Hand-written below, each naming the Rust type it
// mirrors: the types of config/, lifecycle/, store/ and routing/, which do
// not derive `TS` yet; request bodies with defaults; and the fallback test's
// answer, built with `serde_json::json!` (api/admin/ops.rs::fallback_test).

import type { AttemptInfo } from './generated/AttemptInfo';
import type { BenchProtocol } from './generated/BenchProtocol';
import type { BenchRun as GeneratedBenchRun } from './generated/BenchRun';
import type { BenchTarget } from './generated/BenchTarget';
import type { KeyPresence } from './generated/KeyPresence';
import type { ProviderInfo as GeneratedProviderInfo } from './generated/ProviderInfo';
import type { UpdateApp } from './generated/UpdateApp';

// ---- generated (gateway-core/src/api/admin/bindings.rs) --------------------

export type { Role } from './generated/Role';
export type { Session } from './generated/Session';
export type { LoggedIn } from './generated/LoggedIn';
export type { LoggedOut } from './generated/LoggedOut';
export type { Status } from './generated/Status';
export type { TargetHealth } from './generated/TargetHealth';
export type { TelemetryState } from './generated/TelemetryState';
export type { TokenStorage } from './generated/TokenStorage';
export type { Paused } from './generated/Paused';
export type { Audit } from './generated/Audit';
export type { KeyPresence };
export type { Providers } from './generated/Providers';
export type { ModelHealth } from './generated/ModelHealth';
export type { DetectedServers } from './generated/DetectedServers';
export type { KeyInfo } from './generated/KeyInfo';
export type { Keys } from './generated/Keys';
export type { KeyDeleted } from './generated/KeyDeleted';
export type { History } from './generated/History';
export type { LiveConfig } from './generated/LiveConfig';
export type { Draft } from './generated/Draft';
export type { RoutesInfo } from './generated/RoutesInfo';
export type { RouteInfo } from './generated/RouteInfo';
export type { RouteTarget } from './generated/RouteTarget';
export type { AttemptInfo };
export type { Quantiles } from './generated/Quantiles';
export type { RouteModes } from './generated/RouteModes';
export type { Bucket } from './generated/Bucket';
export type { Series } from './generated/Series';
export type { RequestRow } from './generated/RequestRow';
export type { RequestPage } from './generated/RequestPage';
export type { AttemptRow } from './generated/AttemptRow';
export type { RequestDetail } from './generated/RequestDetail';
/** api::telemetry::SummaryBody: telemetry::query::Summary with the writer's state. */
export type { SummaryBody as Summary } from './generated/SummaryBody';
export type { Outcome } from './generated/Outcome';
export type { CallResult } from './generated/CallResult';
export type { ReplaySpec } from './generated/ReplaySpec';
export type { ReplayReport } from './generated/ReplayReport';
export type { BenchProtocol };
export type { BenchTarget };
export type { BenchEstimate } from './generated/BenchEstimate';
export type { BenchReport } from './generated/BenchReport';
/** tools::modelbench::Run, its spec as the looser BenchSpec below. */
export type BenchRun = Omit<GeneratedBenchRun, 'spec'> & { spec: BenchSpec };
export type { BenchRuns } from './generated/BenchRuns';
export type { UpdateApp } from './generated/UpdateApp';
export type { UpdateOutcome } from './generated/UpdateOutcome';
export type { UpdateRolledBack } from './generated/UpdateRolledBack';

/**
 * One element of `GET /providers` (ops::ProviderInfo). `models` is not sent
 * by the gateway today; the provider form reads it when present.
 */
export type ProviderInfo = GeneratedProviderInfo & { models?: string[] };

// ---- hand-written: routing/ (health, probes) -------------------------------

/** routing::health::HealthSnapshot */
export interface HealthSnapshot {
  open: boolean;
  consecutive_failures: number;
  cooldown_remaining_ms: number | null;
  ewma_latency_ms: number | null;
  last_error: string | null;
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

// ---- hand-written: config lifecycle (config/, lifecycle/, store/) -----------

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

/** store::AuditEntry */
export interface AuditEntry {
  id: number;
  at_ms: number;
  actor: string;
  action: string;
  version_id: number | null;
  detail: unknown;
}

// ---- hand-written: structured edits (lifecycle::draft, POST /config/draft) --

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

// ---- hand-written: fallback test (ops::fallback_test, built with json!) -----

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

// ---- hand-written: request bodies with defaults ---------------------------

/** `POST /update/apply` body. */
export interface UpdateApplySpec {
  dry_run?: boolean;
  allow_downgrade?: boolean;
  manifest_url?: string;
}

// ---- hand-written, looser than generated/ ----------------------------------
// BenchSpec is also a request body whose fields have serde defaults
// (generated/BenchSpec has every field required, as the gateway answers it).
// The update check types accept older gateways (no `app`,
// `restart_supported`, `previous.binary`), which generated/UpdateCheck,
// UpdateStatus, UpdateInstalled and UpdatePrevious (what this gateway sends)
// do not.

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
  app?: UpdateApp;
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
  app?: UpdateApp;
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
