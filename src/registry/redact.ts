/**
 * Secrets never leave the process: every password, identity token, bearer
 * token and Basic credential string is registered here as soon as it is
 * known, and every line ocikit's registry code writes into a log or an error
 * message passes through `redact`. Headers that carry secrets are never
 * logged at all; this is the second line of defence for secrets echoed back
 * in bodies, URLs or error messages.
 */
export class Secrets {
  private readonly values = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would redact ordinary words; nobody's credential is 3 characters.
    if (secret && secret.length >= 4) {
      this.values.add(secret);
      this.values.add(encodeURIComponent(secret));
    }
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('***');
    return out;
  }
}

