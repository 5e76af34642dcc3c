// Stand-in of Supermark's trigger.config.ts: the same shape (a project ref the
// deploy overrides with --project-ref, the task folder lib/trigger, and the
// ffmpeg build extension, whose variables the deploy syncs to Trigger.dev).
// Supermark's prismaExtension is left out: it needs the prisma package.
import { ffmpeg } from "@trigger.dev/build/extensions/core";
import { defineConfig } from "@trigger.dev/sdk";

export default defineConfig({
  project: "proj_supermarkstandin",
  dirs: ["./lib/trigger"],
  maxDuration: 3600,
  build: {
    extensions: [ffmpeg()],
  },
});
