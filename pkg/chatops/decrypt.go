package chatops

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// WeComKey turns a 43-character EncodingAESKey into the 32-byte AES key.
func WeComKey(encodingAESKey string) ([]byte, error) {
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("chatops: wecom EncodingAESKey must be 43 characters, got %d", len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("chatops: wecom EncodingAESKey is not base64 of 32 bytes")
	}
	return key, nil
}

// DecryptWeCom decrypts a WeCom Encrypt/encrypt/echostr value: AES-256-CBC
// with IV = key[:16], PKCS#7 padding to 32-byte blocks, plaintext
// random(16) ‖ msg_len(4, big-endian) ‖ msg ‖ receiveid. Every bound is
// checked, so hostile input returns ErrDecrypt instead of panicking. The
// caller compares receiveID (CorpID for an app, "" for a smart robot).
func DecryptWeCom(encodingAESKey, encrypt string) (msg []byte, receiveID string, err error) {
	key, err := WeComKey(encodingAESKey)
	if err != nil {
		return nil, "", err
	}
	return decryptWeCom(key, encrypt)
}

func decryptWeCom(key []byte, encrypt string) ([]byte, string, error) {
	ct, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, "", fmt.Errorf("%w: wecom: base64: %v", ErrDecrypt, err)
	}
	pt, err := cbcDecrypt(key, key[:aes.BlockSize], ct, 32)
	if err != nil {
		return nil, "", fmt.Errorf("%w: wecom: %v", ErrDecrypt, err)
	}
	if len(pt) < 20 {
		return nil, "", fmt.Errorf("%w: wecom: plaintext too short", ErrDecrypt)
	}
	n := uint64(binary.BigEndian.Uint32(pt[16:20]))
	if n > uint64(len(pt)-20) {
		return nil, "", fmt.Errorf("%w: wecom: msg_len %d exceeds payload", ErrDecrypt, n)
	}
	end := 20 + int(n)
	return pt[20:end], string(pt[end:]), nil
}

// FeishuKey is SHA-256 of the Encrypt Key.
func FeishuKey(encryptKey string) []byte {
	k := sha256.Sum256([]byte(encryptKey))
	return k[:]
}

// DecryptFeishu decrypts a Feishu "encrypt" value: key = SHA-256(encryptKey),
// the first 16 bytes of the decoded value are the IV, AES-256-CBC, PKCS#7
// padding to 16-byte blocks.
func DecryptFeishu(encryptKey, encrypt string) ([]byte, error) {
	return decryptFeishu(FeishuKey(encryptKey), encrypt)
}

func decryptFeishu(key []byte, encrypt string) ([]byte, error) {
	buf, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, fmt.Errorf("%w: feishu: base64: %v", ErrDecrypt, err)
	}
	if len(buf) < 2*aes.BlockSize {
		return nil, fmt.Errorf("%w: feishu: payload too short", ErrDecrypt)
	}
	pt, err := cbcDecrypt(key, buf[:aes.BlockSize], buf[aes.BlockSize:], aes.BlockSize)
	if err != nil {
		return nil, fmt.Errorf("%w: feishu: %v", ErrDecrypt, err)
	}
	return pt, nil
}

// cbcDecrypt decrypts ct and strips PKCS#7 padding whose pad value must lie
// in 1..padBlock, with every pad byte equal to it.
func cbcDecrypt(key, iv, ct []byte, padBlock int) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("ciphertext length %d is not a positive multiple of %d", len(ct), aes.BlockSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes key: %v", err)
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > padBlock || pad > len(pt) {
		return nil, fmt.Errorf("bad padding")
	}
	for _, b := range pt[len(pt)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("bad padding")
		}
	}
	return pt[:len(pt)-pad], nil
}
