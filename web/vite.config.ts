import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Run as `vite build web`: the root is this folder and the output web/dist, which `opx serve` serves at /.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The graph library is a chunk of its own, about 450 kB, loaded only by the incident page.
    chunkSizeWarningLimit: 600,
  },
});
