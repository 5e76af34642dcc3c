// Stand-in of Supermark's lib/resend.ts (tests and the local run only; not
// Supermark's code). Supermark's own file hard-codes its e-mail senders to
// @supermark.cc at the lines below, and Resend refuses a sender domain the
// account has not verified, so operators patch them (supermark_source_patches;
// the example is patches/sender-domain.patch.j2). The sender lines sit at the
// same line numbers as in Supermark's file at the pinned ref, so the example
// patch is tested here as it applies there; the stand-in's build bakes the
// senders it finds into .next/build.json, and the app reports them at
// /api/standin/build.
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
//
const fromAddress = (kind: string): string =>
      ? "Supermark <noreply@supermark.cc>"
  kind === "system"
        ? "Supermark <system@supermark.cc>"
  kind === "verify"
          ? "Supermark <verify@supermark.cc>"
  kind === "scheduled"
            ? "Supermark <noreply@supermark.cc>"
            : "Supermark <noreply@supermark.cc>");
//
//
//
//
//
//
      replyTo: marketing ? "noreply@supermark.cc" : replyTo,
