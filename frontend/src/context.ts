// App-wide state the pages share: who is logged in and the gateway status.
import { createContext, useContext } from 'react';
import type { ApiError } from './api/transport';
import type { Role, Status } from './api/types';

export interface AppCtx {
  role: Role;
  canWrite: boolean;
  transport: 'browser' | 'tauri';
  status: Status | undefined;
  statusError: ApiError | undefined;
  reloadStatus: () => void;
  logout: () => void;
}

export const AppContext = createContext<AppCtx | null>(null);

export function useApp(): AppCtx {
  const c = useContext(AppContext);
  if (!c) throw new Error('useApp outside <App>');
  return c;
}
