import { defineConfig, type Plugin } from "vite";

// keepPlaceholder re-creates dist/.gitkeep after vite empties dist/: the
// placeholder is tracked in git so that embed.go's go:embed pattern matches
// a file even before the client is built.
function keepPlaceholder(): Plugin {
  return {
    name: "globalchat-keep-placeholder",
    apply: "build",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: ".gitkeep", source: "" });
    },
  };
}

// The Go server embeds dist/ and serves the page, the API and Socket.IO
// from one origin; `npm run dev` proxies those to a server on :8080.
export default defineConfig({
  base: "/",
  plugins: [keepPlaceholder()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // Inline nothing: the page's CSP allows scripts and styles from self only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    // Two pages: the chat, and the operator's dashboard (/admin).
    rollupOptions: { input: { index: "index.html", admin: "admin.html" } },
  },
  server: {
    proxy: {
      "/socket.io": { target: "http://127.0.0.1:8080", ws: true },
      "/api": "http://127.0.0.1:8080",
      "/healthz": "http://127.0.0.1:8080",
      "/admin/api": "http://127.0.0.1:8080",
    },
  },
});
