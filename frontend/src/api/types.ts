// Wire types of the admin API. Most are generated from the Rust types by
// ts-rs into ./generated (see docs/ui.md: `AIGW_WRITE_BINDINGS=1 cargo
// nextest run -p gateway-core bindings`; a test fails when they are stale)
// and re-exported here. Hand-written below: request bodies with defaults,
// and types kept looser than the generated ones on purpose (each says why).

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
export type { CacheStats } from './generated/CacheStats';
export type { TargetHealth } from './generated/TargetHealth';
export type { KeySnapshot } from './generated/KeySnapshot';
export type { ProviderState } from './generated/ProviderState';
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
export type { RouteMatch } from './generated/RouteMatch';
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
// verification runs
export type { VerifySuite } from './generated/VerifySuite';
export type { VerifyProbe } from './generated/VerifyProbe';
export type { VerifyProbeResult } from './generated/VerifyProbeResult';
export type { VerifyBaseline } from './generated/VerifyBaseline';
export type { VerifyRun } from './generated/VerifyRun';
export type { VerifyReason } from './generated/VerifyReason';
export type { VerifyReasonKind } from './generated/VerifyReasonKind';
export type { VerifyVerdict } from './generated/VerifyVerdict';
export type { UpdateApp } from './generated/UpdateApp';
export type { UpdateOutcome } from './generated/UpdateOutcome';
export type { UpdateRolledBack } from './generated/UpdateRolledBack';
// routing/: health, probes, local servers
export type { HealthSnapshot } from './generated/HealthSnapshot';
export type { ProbeReport } from './generated/ProbeReport';
export type { LocalServer } from './generated/LocalServer';
// config lifecycle: config/, lifecycle/, store/
export type { Severity } from './generated/Severity';
export type { Issue } from './generated/Issue';
export type { Validation } from './generated/Validation';
export type { DiffSummary } from './generated/DiffSummary';
export type { Preview } from './generated/Preview';
export type { Version } from './generated/Version';
export type { Published } from './generated/Published';
export type { AuditEntry } from './generated/AuditEntry';
// structured edits (POST /config/draft): lifecycle::draft::{Op, ProviderDraft, RouteDraft, TargetDraft}
export type { Strategy } from './generated/Strategy';
export type { DraftOp } from './generated/DraftOp';
export type { ProviderDraft as ProviderSpec } from './generated/ProviderDraft';
export type { RouteDraft as RouteSpec } from './generated/RouteDraft';
export type { TargetDraft as TargetSpec } from './generated/TargetDraft';
// Connect tools (clients/, api/admin/clients.rs)
export type { ClientInfo } from './generated/ClientInfo';
/** `GET /clients`: the gateway's base URL and every tool. */
export type { ClientList as Clients } from './generated/ClientList';
export type { ClientPreview } from './generated/ClientPreview';
export type { FileChange } from './generated/FileChange';
/** `restored` is `byte-exact`, `merged`, `removed`, `nothing` or null (a connect). */
export type { ClientOutcome } from './generated/ClientOutcome';
export type { ModelMap } from './generated/ModelMap';
export type { ConnectBody } from './generated/ConnectBody';

// fallback test (api/admin/ops.rs)
export type { RouteMode } from './generated/RouteMode';
export type { FallbackTestResult } from './generated/FallbackTestResult';
export type { CostEstimate } from './generated/CostEstimate';

/**
 * One element of `GET /providers` (ops::ProviderInfo). `models` is not sent
 * by the gateway today; the provider form reads it when present.
 */
export type ProviderInfo = GeneratedProviderInfo & { models?: string[] };

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
