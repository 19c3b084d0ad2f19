package chatops

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"strconv"
	"time"
)

// encryptWeCom is decryptWeCom's inverse: random(16) ‖ msg_len ‖ msg ‖
// receiveid, PKCS#7 to 32-byte blocks, AES-256-CBC with IV = key[:16].
func encryptWeCom(key []byte, msg []byte, receiveID string) (string, error) {
	pt := make([]byte, 20, 20+len(msg)+len(receiveID)+32)
	if _, err := rand.Read(pt[:16]); err != nil {
		return "", err
	}
	binary.BigEndian.PutUint32(pt[16:20], uint32(len(msg)))
	pt = append(append(pt, msg...), receiveID...)
	pad := 32 - len(pt)%32
	for range pad {
		pt = append(pt, byte(pad))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(pt, pt)
	return base64.StdEncoding.EncodeToString(pt), nil
}

type cdata struct {
	Text string `xml:",cdata"`
}

// wecomAppPassive is the encrypted passive reply a self-built app's
// callback may carry: the text goes back to the user who wrote, at once.
func wecomAppPassive(k wecomKind, toUser, text, nonce string, now time.Time) ([]byte, error) {
	inner, err := xml.Marshal(struct {
		XMLName      xml.Name `xml:"xml"`
		ToUserName   cdata
		FromUserName cdata
		CreateTime   int64
		MsgType      cdata
		Content      cdata
	}{ToUserName: cdata{toUser}, FromUserName: cdata{k.receiveID}, CreateTime: now.Unix(),
		MsgType: cdata{"text"}, Content: cdata{text}})
	if err != nil {
		return nil, err
	}
	enc, err := encryptWeCom(k.key, inner, k.receiveID)
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	return xml.Marshal(struct {
		XMLName      xml.Name `xml:"xml"`
		Encrypt      cdata
		MsgSignature cdata
		TimeStamp    string
		Nonce        cdata
	}{Encrypt: cdata{enc}, MsgSignature: cdata{WeComSignature(k.token, ts, nonce, enc)}, TimeStamp: ts, Nonce: cdata{nonce}})
}

// wecomRobotPassive is the smart robot's encrypted passive reply: a stream
// message that is finished at once, so WeCom sends no refresh callbacks.
func wecomRobotPassive(k wecomKind, streamID, text, nonce string, now time.Time) ([]byte, error) {
	var inner struct {
		MsgType string `json:"msgtype"`
		Stream  struct {
			ID      string `json:"id"`
			Finish  bool   `json:"finish"`
			Content string `json:"content"`
		} `json:"stream"`
	}
	inner.MsgType, inner.Stream.ID, inner.Stream.Finish, inner.Stream.Content = "stream", streamID, true, text
	b, err := json.Marshal(inner)
	if err != nil {
		return nil, err
	}
	enc, err := encryptWeCom(k.key, b, k.receiveID)
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	return json.Marshal(struct {
		Encrypt      string `json:"encrypt"`
		MsgSignature string `json:"msgsignature"`
		Timestamp    int64  `json:"timestamp"`
		Nonce        string `json:"nonce"`
	}{enc, WeComSignature(k.token, ts, nonce, enc), now.Unix(), nonce})
}
