// The typed admin API, one module per domain, over one transport.
export { session } from './session';
export { status } from './status';
export { providers } from './providers';
export { keys } from './keys';
export { config } from './config';
export { fallback } from './fallback';
export { telemetry } from './telemetry';
export { clients } from './clients';
export { tools } from './tools';
export { updates } from './updates';
export { verify } from './verify';
export { ApiError, onDesktopEvent, onUnauthorized, restartApp, transport } from './transport';
export type * from './types';
