/**
 * placeholder
 * @since 0.1.0
 */
export const analyze = (text: string): { readonly text: string } => ({ text })
