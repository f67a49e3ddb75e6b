/// <reference types="vitest/config" />
// Vite config: the build is served by `aigw` at /ui (embedded in the binary,
// see gateway-core/src/api/ui.rs) and loaded by the desktop window.
// `npm run dev` proxies the admin API to a running gateway (AIGW_URL,
// default http://127.0.0.1:4000).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const gateway = process.env.AIGW_URL ?? 'http://127.0.0.1:4000';

export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Everything as files: the gateway's CSP is `default-src 'self'`, so no
    // data: URIs and no inline scripts.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/admin': {
        target: gateway,
        changeOrigin: true,
        // The gateway refuses cross-origin writes; the dev proxy is same-origin in spirit.
        configure: (proxy) => proxy.on('proxyReq', (req) => req.removeHeader('origin')),
      },
      '/v1': { target: gateway, changeOrigin: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
