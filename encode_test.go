package main

// The hand-written task encoder against encoding/json.

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// marshalWithReflection is what encoding/json writes for a task's wire
// struct (testTask); appendTask must write exactly the same bytes.
func marshalWithReflection(t Task) []byte {
	b, err := json.Marshal(testTask{t.ID, t.UserID, t.Title, t.Description, t.IsCompleted,
		t.CreatedAt.UTC().Format(timeLayout), t.UpdatedAt.UTC().Format(timeLayout)})
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzAppendTask: the hand-written encoder writes what encoding/json writes,
// for any text and any time the stores can hold.
func FuzzAppendTask(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "<a href='x'>&amp;</a>", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f",
		"é中文🎉", "\u2028\u2029", "\xff\xfe bad", "\xed\xa0\x80", "a\u0085b"} {
		f.Add(s, int64(1764102531123456), true)
	}
	f.Add("x", int64(-62135596800000000), false) // 0001-01-01
	f.Add("x", int64(253402300799999999), false) // 9999-12-31T23:59:59.999999
	f.Fuzz(func(t *testing.T, s string, micros int64, done bool) {
		ts := time.UnixMicro(micros).In(time.FixedZone("x", 3600))
		task := Task{ID: s, UserID: s, Title: s, Description: &s, IsCompleted: done, CreatedAt: ts, UpdatedAt: ts.Add(time.Microsecond)}
		if got, want := appendTask(nil, task), marshalWithReflection(task); !bytes.Equal(got, want) {
			t.Errorf("appendTask = %s\nencoding/json = %s", got, want)
		}
		task.Description = nil
		if got, want := appendTask(nil, task), marshalWithReflection(task); !bytes.Equal(got, want) {
			t.Errorf("without description: appendTask = %s\nencoding/json = %s", got, want)
		}
	})
}
