import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: { outDir: fileURLToPath(new URL('../dist/web', import.meta.url)), emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  // `npm run dev:web` serves the client with hot reload against a server started with `npm start`.
  server: { proxy: { '/api': 'http://localhost:3000', '/tiles': { target: 'http://localhost:3000', changeOrigin: false } } },
});
