import { describe, expect, it } from "vitest";
import { answersFor, describe as say, labelOf, NOT_A_DIGIT, numberBoxes, wholeNumberRight, type Stored } from "../src/numbers";

// An /api/read answer: "47" with a dot left out between the two digits.
const READ = {
  text: "47",
  digits: [
    { digit: 7, box: [200, 10, 60, 100], uncertain: true, not_a_digit: false },
    { digit: 4, box: [10, 10, 60, 100], uncertain: false, not_a_digit: false },
  ],
  left_out: [{ box: [120, 100, 8, 8], not_a_digit: true }],
};

describe("a number's boxes", () => {
  it("lists digits and left-out marks left to right, each with its index in its own list", () => {
    const boxes = numberBoxes(READ);
    expect(boxes.map((b) => [b.key, b.index, b.leftOut, b.digit, b.stray, b.unsure])).toEqual([
      ["d1", 1, false, 4, false, false],
      ["m0", 0, true, null, true, false],
      ["d0", 0, false, 7, false, true],
    ]);
  });
  it("takes a digit flagged as no digit as a stray mark", () => {
    const boxes = numberBoxes({ digits: [{ digit: 3, box: [0, 0, 5, 5], not_a_digit: true }] });
    expect(boxes[0].stray && boxes[0].digit === null).toBe(true);
  });
});

describe("the answers sent", () => {
  const boxes = numberBoxes(READ);
  it("confirms every box as read for 'the whole number is right'", () => {
    expect(answersFor(boxes, wholeNumberRight(boxes), new Map())).toEqual([
      { box: 1, label: 4 },
      { box: 0, left_out: true, label: NOT_A_DIGIT },
      { box: 0, label: 7 },
    ]);
  });
  it("replaces a box's stored answer, and leaves out one stored already", () => {
    const stored = new Map<string, Stored>([
      ["d0", { id: 12, undo: "t12", label: 1 }],
      ["d1", { id: 13, undo: "t13", label: 4 }],
    ]);
    expect(answersFor(boxes, wholeNumberRight(boxes), stored)).toEqual([
      { box: 0, left_out: true, label: NOT_A_DIGIT },
      { box: 0, label: 7, replaces: 12, undo: "t12" },
    ]);
    expect(answersFor(boxes, new Map([["d1", 4]]), stored)).toEqual([]);
  });
  it("reads a select's value and says an answer in words", () => {
    expect([labelOf("6"), labelOf("0"), labelOf(NOT_A_DIGIT)]).toEqual([6, 0, NOT_A_DIGIT]);
    expect(say(2, 6)).toBe("box 2 is a 6");
    expect(say(3, NOT_A_DIGIT)).toBe("box 3 is not a digit");
  });
});
