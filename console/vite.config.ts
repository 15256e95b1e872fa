import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build goes into the Python package, which serves it at "/" (see src/segue/console/).
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/segue/console/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev` against a `segue serve` on the default port.
    proxy: Object.fromEntries(
      ["/tasks", "/pipelines", "/files", "/me", "/healthz"].map((p) => [p, "http://127.0.0.1:8000"]),
    ),
  },
});
