import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
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

// precompress writes name.gz and name.br beside each text file of the
// build, at the strongest levels (done once here, not per request): the
// server sends them to browsers that accept them (embed.go).
function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "globalchat-precompress",
    apply: "build",
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
          const p = path.join(dir, e.name);
          return e.isDirectory() ? walk(p) : [p];
        });
      for (const file of walk(outDir)) {
        if (!/\.(html|js|css|svg)$/.test(file)) continue;
        const body = fs.readFileSync(file);
        fs.writeFileSync(`${file}.gz`, zlib.gzipSync(body, { level: 9 }));
        fs.writeFileSync(
          `${file}.br`,
          zlib.brotliCompressSync(body, {
            params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length },
          }),
        );
      }
    },
  };
}

// The Go server embeds dist/ and serves the page, the API and Socket.IO
// from one origin; `npm run dev` proxies those to a server on :8080.
export default defineConfig({
  base: "/",
  plugins: [keepPlaceholder(), precompress()],
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
