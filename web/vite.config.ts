// The dashboard, built to static assets (web/dist) that the worker serves beside the API.
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // MapLibre alone is ~1 MB minified; it is loaded after the fleet's figures and table.
    chunkSizeWarningLimit: 1600,
    sourcemap: true,
  },
  clearScreen: false,
  logLevel: "warn",
});
