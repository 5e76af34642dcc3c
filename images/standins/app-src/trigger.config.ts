// Stand-in of Supermark's trigger.config.ts: the same shape (a project ref the
// deploy overrides with --project-ref, the task folder lib/trigger).
import { defineConfig } from "@trigger.dev/sdk";

export default defineConfig({
  project: "proj_supermarkstandin",
  dirs: ["./lib/trigger"],
  maxDuration: 3600,
});
