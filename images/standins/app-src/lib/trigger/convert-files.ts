// Stand-in of one of Supermark's tasks (lib/trigger): what the deploy bundles.
import { task } from "@trigger.dev/sdk";

export const convertFilesToPdf = task({
  id: "convert-files-to-pdf",
  run: async (payload: { documentVersionId: string }) => {
    return { documentVersionId: payload.documentVersionId, pages: 1 };
  },
});
