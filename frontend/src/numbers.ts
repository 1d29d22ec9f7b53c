// A whole number's boxes and the answers about them, without the page: what the boxes are (the
// reading's digits and its left-out marks, by position) and the request that answers some of them.

export const NOT_A_DIGIT = "not a digit";
export type Label = number | typeof NOT_A_DIGIT;

export interface NumberBox {
  key: string; // "d2": the reading's digits[2]; "m0": its left_out[0]
  index: number; // in `digits`, or in `left_out`
  leftOut: boolean;
  box: number[]; // [x, y, width, height]
  digit: number | null; // what the model read in it; null: no digit (a stray mark)
  stray: boolean;
  unsure: boolean;
  reading: any; // the box as /api/read answered it
}

/** Every box of a /api/read answer, left to right: its digits and the marks it left out. */
export function numberBoxes(answer: any): NumberBox[] {
  const digits = (answer.digits || []).map((d: any, index: number) => ({ d, index, leftOut: false }));
  const marks = (answer.left_out || []).map((d: any, index: number) => ({ d, index, leftOut: true }));
  return digits
    .concat(marks)
    .map(({ d, index, leftOut }: { d: any; index: number; leftOut: boolean }) => {
      const stray = leftOut || Boolean(d.not_a_digit);
      return {
        key: `${leftOut ? "m" : "d"}${index}`,
        index,
        leftOut,
        box: d.box,
        digit: stray ? null : d.digit,
        stray,
        unsure: !stray && Boolean(d.uncertain),
        reading: d,
      };
    })
    .sort((a: NumberBox, b: NumberBox) => a.box[0] - b.box[0]);
}

/** What the model read in a box, as an answer would say it. */
export function readAs(box: NumberBox): Label {
  return box.digit === null ? NOT_A_DIGIT : box.digit;
}

export interface Stored {
  id: number;
  undo: string;
  label: Label;
}

export interface BoxAnswer {
  box: number;
  left_out?: boolean;
  label: Label;
  replaces?: number;
  undo?: string;
}

/** The answers to send: `labels` for some boxes (by key), each replacing that box's stored
 * answer, if any, so that a box keeps at most one. Boxes already stored with that label are left
 * out: they are stored already. */
export function answersFor(boxes: NumberBox[], labels: Map<string, Label>, stored: Map<string, Stored>): BoxAnswer[] {
  const answers: BoxAnswer[] = [];
  for (const box of boxes) {
    if (!labels.has(box.key)) continue;
    const label = labels.get(box.key)!;
    const before = stored.get(box.key);
    if (before && before.label === label) continue;
    answers.push({
      box: box.index,
      ...(box.leftOut ? { left_out: true } : {}),
      label,
      ...(before ? { replaces: before.id, undo: before.undo } : {}),
    });
  }
  return answers;
}

/** "The whole number is right": every box as it was read (a left-out mark as not a digit). */
export function wholeNumberRight(boxes: NumberBox[]): Map<string, Label> {
  return new Map(boxes.map((b) => [b.key, readAs(b)]));
}

/** A label from a <select>'s value. */
export function labelOf(value: string): Label {
  return value === NOT_A_DIGIT ? NOT_A_DIGIT : Number(value);
}

/** The person's words for an answer: "box 2 is a 6", "box 3 is not a digit". */
export function describe(position: number, label: Label): string {
  return label === NOT_A_DIGIT ? `box ${position} is not a digit` : `box ${position} is a ${label}`;
}
