package chatops_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/backupflow/backupflow/pkg/chatops"
	"github.com/backupflow/backupflow/pkg/chatops/chatopstest"
)

// rawCBC encrypts pt as is (no padding added), so tests can craft any tail.
func rawCBC(t *testing.T, key, iv, pt []byte) []byte {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(pt))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, pt)
	return out
}

func wecomPlain(msgLen uint32, msg, rid string) []byte {
	p := bytes.Repeat([]byte{'r'}, 16)
	p = binary.BigEndian.AppendUint32(p, msgLen)
	return append(append(p, msg...), rid...)
}

func pad(p []byte, block int) []byte {
	n := block - len(p)%block
	return append(p, bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestDecryptWeCom_malformed(t *testing.T) {
	key, err := chatops.WeComKey(chatopstest.WeComEncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(pt []byte) string { return base64.StdEncoding.EncodeToString(rawCBC(t, key, key[:16], pt)) }
	withTail := func(tail ...byte) []byte {
		p := wecomPlain(2, "hi", "corp")
		for len(p)%16 != 16-len(tail)%16 && (len(p)+len(tail))%16 != 0 {
			p = append(p, 'x')
		}
		return append(p, tail...)
	}
	tests := []struct {
		name    string
		encrypt string
	}{
		{"not base64", "%%%"},
		{"empty", ""},
		{"not a block multiple", base64.StdEncoding.EncodeToString(make([]byte, 20))},
		{"pad byte zero", enc(withTail(0))},
		{"pad byte 33", enc(withTail(bytes.Repeat([]byte{33}, 16)...))},
		{"pad bytes disagree", enc(withTail(1, 2, 3, 3))},
		{"msg_len past the end", enc(pad(wecomPlain(1<<31, "hi", ""), 32))},
		{"msg_len max uint32", enc(pad(wecomPlain(0xFFFFFFFF, "hi", "corp"), 32))},
		{"msg_len one too long", enc(pad(wecomPlain(3, "hi", ""), 32))},
		{"shorter than the header", enc(pad(bytes.Repeat([]byte{'r'}, 10), 32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, rid, err := chatops.DecryptWeCom(chatopstest.WeComEncodingAESKey, tt.encrypt)
			if !errors.Is(err, chatops.ErrDecrypt) {
				t.Errorf("DecryptWeCom = %q, %q, %v; want ErrDecrypt", msg, rid, err)
			}
		})
	}
	// A 32-byte pad (a plaintext already on a 32-byte boundary) is valid.
	p := wecomPlain(12, "hello world!", "") // 32 bytes
	msg, rid, err := chatops.DecryptWeCom(chatopstest.WeComEncodingAESKey, enc(pad(p, 32)))
	if err != nil || string(msg) != "hello world!" || rid != "" {
		t.Errorf("DecryptWeCom(full pad block) = %q, %q, %v", msg, rid, err)
	}
}

func TestDecryptFeishu_malformed(t *testing.T) {
	k := sha256.Sum256([]byte("k"))
	iv := bytes.Repeat([]byte{7}, 16)
	enc := func(pt []byte) string {
		return base64.StdEncoding.EncodeToString(append(append([]byte(nil), iv...), rawCBC(t, k[:], iv, pt)...))
	}
	for name, encrypt := range map[string]string{
		"only an iv":        base64.StdEncoding.EncodeToString(iv),
		"ragged":            base64.StdEncoding.EncodeToString(make([]byte, 40)),
		"pad 17":            enc(append(bytes.Repeat([]byte{'a'}, 15), 17)),
		"pad 0":             enc(append(bytes.Repeat([]byte{'a'}, 15), 0)),
		"wecom-style pad":   enc(pad([]byte("{}"), 32)),
		"not base64 at all": "{}",
	} {
		if got, err := chatops.DecryptFeishu("k", encrypt); !errors.Is(err, chatops.ErrDecrypt) {
			t.Errorf("DecryptFeishu(%s) = %q, %v; want ErrDecrypt", name, got, err)
		}
	}
	if got, err := chatops.DecryptFeishu("k", chatopstest.EncryptFeishu("k", []byte(`{"a":1}`), iv)); err != nil || string(got) != `{"a":1}` {
		t.Errorf("DecryptFeishu(round trip) = %q, %v", got, err)
	}
}
